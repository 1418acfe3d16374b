// name: sellers_per_buyer_distribution
// description: Degree distribution of sellers per buyer in one vintage (Table 1, Figure A1): how many buyers have k sellers.
// params: year: int
// returns: k, buyers
MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm)
WHERE r.year = $year
WITH b, count(*) AS k
RETURN k, count(*) AS buyers
ORDER BY k
