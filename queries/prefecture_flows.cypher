// name: prefecture_flows
// description: Number of links from sellers in each prefecture to buyers in each prefecture in one vintage.
// params: year: int
// returns: seller_pref, buyer_pref, links
MATCH (s:Firm)-[r:SUPPLIES]->(b:Firm)
WHERE r.year = $year
RETURN s.pref AS seller_pref, b.pref AS buyer_pref, count(*) AS links
ORDER BY seller_pref, buyer_pref
