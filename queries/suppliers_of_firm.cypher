// name: suppliers_of_firm
// description: Sellers that supply a firm in one vintage, nearest first.
// params: firm_id: str, year: int
// returns: seller_id, name, pref, jsic4, employees, dist_km, reported_by, parent_child
MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm {tsr_id: $firm_id})
WHERE r.year = $year
RETURN s.tsr_id AS seller_id, s.name AS name, s.pref AS pref, s.jsic4 AS jsic4, s.employees AS employees,
       r.dist_km AS dist_km, r.reported_by AS reported_by, r.parent_child AS parent_child
ORDER BY dist_km, seller_id
