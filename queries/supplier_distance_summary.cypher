// name: supplier_distance_summary
// description: Per buyer, the number of sellers and their mean and median distance (km) and the share within 25 km (Figure 1, Table 3).
// params: year: int
// returns: buyer_id, sellers, mean_km, median_km, share_within_25km
MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm)
WHERE r.year = $year
RETURN b.tsr_id AS buyer_id, count(*) AS sellers, avg(r.dist_km) AS mean_km,
       percentileCont(r.dist_km, 0.5) AS median_km,
       avg(CASE WHEN r.dist_km < 25.0 THEN 1.0 ELSE 0.0 END) AS share_within_25km
ORDER BY buyer_id
