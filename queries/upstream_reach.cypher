// name: upstream_reach
// description: Firms upstream of a firm within k hops (k = 1, 2 or 3) in one vintage, with each hop at which a firm is reached; the reach within k is the distinct firms other than the firm itself. Chained MATCH … WITH DISTINCT (not a 2-hop pattern) avoids a wrong-count bug of the embedded engine.
// params: firm_id: str, year: int, k: int 1..3
// returns: firm_id, hop
MATCH (s:Firm)-[r1:SUPPLIES]->(f:Firm {tsr_id: $firm_id})
WHERE r1.year = $year
RETURN DISTINCT s.tsr_id AS firm_id, 1 AS hop
UNION
MATCH (s1:Firm)-[r1:SUPPLIES]->(f:Firm {tsr_id: $firm_id})
WHERE r1.year = $year AND $k >= 2
WITH DISTINCT s1
MATCH (s:Firm)-[r2:SUPPLIES]->(s1)
WHERE r2.year = $year
RETURN DISTINCT s.tsr_id AS firm_id, 2 AS hop
UNION
MATCH (s1:Firm)-[r1:SUPPLIES]->(f:Firm {tsr_id: $firm_id})
WHERE r1.year = $year AND $k >= 3
WITH DISTINCT s1
MATCH (s2:Firm)-[r2:SUPPLIES]->(s1)
WHERE r2.year = $year
WITH DISTINCT s2
MATCH (s:Firm)-[r3:SUPPLIES]->(s2)
WHERE r3.year = $year
RETURN DISTINCT s.tsr_id AS firm_id, 3 AS hop
