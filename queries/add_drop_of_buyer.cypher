// name: add_drop_of_buyer
// description: A buyer's sellers between two vintages, each marked added, dropped or continuing (section 3.2, eq. 16).
// params: firm_id: str, year_from: int, year_to: int
// returns: seller_id, status, dist_km, name, pref, jsic4
MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm {tsr_id: $firm_id})
WHERE r.year = $year_from OR r.year = $year_to
WITH s, min(r.year) AS first_year, max(r.year) AS last_year, min(r.dist_km) AS dist_km
RETURN s.tsr_id AS seller_id,
       CASE WHEN first_year = $year_from AND last_year = $year_to THEN 'continuing'
            WHEN first_year = $year_from THEN 'dropped' ELSE 'added' END AS status,
       dist_km, s.name AS name, s.pref AS pref, s.jsic4 AS jsic4
ORDER BY status, seller_id
