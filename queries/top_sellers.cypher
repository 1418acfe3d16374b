// name: top_sellers
// description: Sellers with the most buyers in one vintage (section 2: the top seller has over 11,000).
// params: year: int, limit: int
// returns: seller_id, name, pref, jsic4, buyers
MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm)
WHERE r.year = $year
WITH s, count(*) AS buyers
RETURN s.tsr_id AS seller_id, s.name AS name, s.pref AS pref, s.jsic4 AS jsic4, buyers
ORDER BY buyers DESC, seller_id
LIMIT $limit
