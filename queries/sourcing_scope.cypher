// name: sourcing_scope
// description: Per buyer, the scope of domestic sourcing: sellers, input industries (3- and 4-digit) and source prefectures (Tables 2, 3, A4).
// params: year: int
// returns: buyer_id, sellers, input_industries_3, input_industries_4, source_prefectures
MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm)
WHERE r.year = $year
RETURN b.tsr_id AS buyer_id, count(*) AS sellers, count(DISTINCT s.jsic3) AS input_industries_3,
       count(DISTINCT s.jsic4) AS input_industries_4, count(DISTINCT s.pref) AS source_prefectures
ORDER BY buyer_id
