// name: firm_ego
// description: Ego network of a firm in one vintage: every supplier and customer with the direction of the link.
// params: firm_id: str, year: int
// returns: partner_id, role, name, pref, jsic4, dist_km
MATCH (s:Firm)-[r:SUPPLIES]->(f:Firm {tsr_id: $firm_id})
WHERE r.year = $year
RETURN s.tsr_id AS partner_id, 'supplier' AS role, s.name AS name, s.pref AS pref, s.jsic4 AS jsic4,
       r.dist_km AS dist_km
UNION ALL
MATCH (f:Firm {tsr_id: $firm_id})-[r:SUPPLIES]->(b:Firm)
WHERE r.year = $year
RETURN b.tsr_id AS partner_id, 'customer' AS role, b.name AS name, b.pref AS pref, b.jsic4 AS jsic4,
       r.dist_km AS dist_km
