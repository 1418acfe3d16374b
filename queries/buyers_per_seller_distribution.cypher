// name: buyers_per_seller_distribution
// description: Degree distribution of buyers per seller in one vintage: how many sellers have k buyers.
// params: year: int
// returns: k, sellers
MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm)
WHERE r.year = $year
WITH s, count(*) AS k
RETURN k, count(*) AS sellers
ORDER BY k
