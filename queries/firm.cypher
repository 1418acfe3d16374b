// name: firm
// description: One firm's attributes and the vintages it appears in (single-firm lookup).
// params: firm_id: str
// returns: tsr_id, name, address, pref, muni, jsic4, employees, sales, lat, lon, geo_precision, years
MATCH (f:Firm {tsr_id: $firm_id})
RETURN f.tsr_id AS tsr_id, f.name AS name, f.address AS address, f.pref AS pref, f.muni AS muni,
       f.jsic4 AS jsic4, f.employees AS employees, f.sales AS sales, f.lat AS lat, f.lon AS lon,
       f.geo_precision AS geo_precision, f.years AS years
