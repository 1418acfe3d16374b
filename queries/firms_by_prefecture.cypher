// name: firms_by_prefecture
// description: Firms, buyers and sellers per prefecture in one vintage with the density per km² (Figures A3, A4).
// params: year: int
// returns: pref, name_en, area_km2, firms, buyers, sellers
MATCH (f:Firm)-[:LOCATED_IN]->(p:Prefecture)
WHERE $year IN f.years
WITH p, f,
     COUNT { MATCH (:Firm)-[r:SUPPLIES]->(f) WHERE r.year = $year } AS k_in,
     COUNT { MATCH (f)-[r:SUPPLIES]->(:Firm) WHERE r.year = $year } AS k_out
RETURN p.code AS pref, p.name_en AS name_en, p.area_km2 AS area_km2, count(*) AS firms,
       sum(CASE WHEN k_in > 0 THEN 1 ELSE 0 END) AS buyers, sum(CASE WHEN k_out > 0 THEN 1 ELSE 0 END) AS sellers
ORDER BY pref
