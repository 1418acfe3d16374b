// name: customers_of_firm
// description: Buyers that a firm supplies in one vintage, nearest first.
// params: firm_id: str, year: int
// returns: buyer_id, name, pref, jsic4, employees, dist_km, reported_by, parent_child
MATCH (s:Firm {tsr_id: $firm_id})-[r:SUPPLIES]->(b:Firm)
WHERE r.year = $year
RETURN b.tsr_id AS buyer_id, b.name AS name, b.pref AS pref, b.jsic4 AS jsic4, b.employees AS employees,
       r.dist_km AS dist_km, r.reported_by AS reported_by, r.parent_child AS parent_child
ORDER BY dist_km, buyer_id
