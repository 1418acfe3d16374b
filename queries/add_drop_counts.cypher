// name: add_drop_counts
// description: For every buyer, the number of sellers in each vintage and of added, dropped and continuing sellers.
// params: year_from: int, year_to: int
// returns: buyer_id, sellers_from, sellers_to, added, dropped, continuing
MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm)
WHERE r.year = $year_from OR r.year = $year_to
WITH b, s, min(r.year) AS first_year, max(r.year) AS last_year
WITH b,
     sum(CASE WHEN first_year = $year_from THEN 1 ELSE 0 END) AS sellers_from,
     sum(CASE WHEN last_year = $year_to THEN 1 ELSE 0 END) AS sellers_to,
     sum(CASE WHEN first_year = $year_to THEN 1 ELSE 0 END) AS added,
     sum(CASE WHEN last_year = $year_from THEN 1 ELSE 0 END) AS dropped,
     sum(CASE WHEN first_year = $year_from AND last_year = $year_to THEN 1 ELSE 0 END) AS continuing
RETURN b.tsr_id AS buyer_id, sellers_from, sellers_to, added, dropped, continuing
ORDER BY buyer_id
