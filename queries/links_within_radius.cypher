// name: links_within_radius
// description: Links of one vintage whose seller and buyer both lie within radius_km of a point (great-circle, computed in the query; a latitude box prunes first).
// params: lat: float, lon: float, radius_km: float, year: int
// returns: seller_id, buyer_id, dist_km, seller_km, buyer_km
MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm)
WHERE r.year = $year
  AND abs(s.lat - $lat) <= $radius_km / 111.0 AND abs(b.lat - $lat) <= $radius_km / 111.0
WITH s, b, r,
     sin(radians(s.lat - $lat) / 2.0) AS s1, sin(radians(s.lon - $lon) / 2.0) AS s2,
     sin(radians(b.lat - $lat) / 2.0) AS b1, sin(radians(b.lon - $lon) / 2.0) AS b2
WITH s, b, r,
     2.0 * 6371.0088 * asin(sqrt(s1 * s1 + cos(radians($lat)) * cos(radians(s.lat)) * s2 * s2)) AS seller_km,
     2.0 * 6371.0088 * asin(sqrt(b1 * b1 + cos(radians($lat)) * cos(radians(b.lat)) * b2 * b2)) AS buyer_km
WHERE seller_km <= $radius_km AND buyer_km <= $radius_km
RETURN s.tsr_id AS seller_id, b.tsr_id AS buyer_id, r.dist_km AS dist_km, seller_km, buyer_km
ORDER BY seller_id, buyer_id
