// name: top_buyers
// description: Buyers with the most sellers in one vintage (section 2: the top buyer has close to 8,000).
// params: year: int, limit: int
// returns: buyer_id, name, pref, jsic4, sellers
MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm)
WHERE r.year = $year
WITH b, count(*) AS sellers
RETURN b.tsr_id AS buyer_id, b.name AS name, b.pref AS pref, b.jsic4 AS jsic4, sellers
ORDER BY sellers DESC, buyer_id
LIMIT $limit
