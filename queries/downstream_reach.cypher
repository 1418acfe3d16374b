// name: downstream_reach
// description: Firms downstream of a firm within k hops (k = 1, 2 or 3) in one vintage: its customers, their customers, and so on, with each hop at which a firm is reached. Chained MATCH … WITH DISTINCT as in upstream_reach.
// params: firm_id: str, year: int, k: int 1..3
// returns: firm_id, hop
MATCH (f:Firm {tsr_id: $firm_id})-[r1:SUPPLIES]->(b:Firm)
WHERE r1.year = $year
RETURN DISTINCT b.tsr_id AS firm_id, 1 AS hop
UNION
MATCH (f:Firm {tsr_id: $firm_id})-[r1:SUPPLIES]->(b1:Firm)
WHERE r1.year = $year AND $k >= 2
WITH DISTINCT b1
MATCH (b1)-[r2:SUPPLIES]->(b:Firm)
WHERE r2.year = $year
RETURN DISTINCT b.tsr_id AS firm_id, 2 AS hop
UNION
MATCH (f:Firm {tsr_id: $firm_id})-[r1:SUPPLIES]->(b1:Firm)
WHERE r1.year = $year AND $k >= 3
WITH DISTINCT b1
MATCH (b1)-[r2:SUPPLIES]->(b2:Firm)
WHERE r2.year = $year
WITH DISTINCT b2
MATCH (b2)-[r3:SUPPLIES]->(b:Firm)
WHERE r3.year = $year
RETURN DISTINCT b.tsr_id AS firm_id, 3 AS hop
