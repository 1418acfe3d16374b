// name: add_drop_counts
// description: For every buyer, the number of sellers in each vintage and of added, dropped and continuing sellers.
// params: year_from: int, year_to: int
// returns: buyer_id, sellers_from, sellers_to, added, dropped, continuing

// One row per (buyer, seller) pair first, then one per buyer. A pair is in year_from, year_to or both, so
// added = pairs - sellers_from, dropped = pairs - sellers_to, continuing = sellers_from + sellers_to - pairs.
// Written from the buyer's side, so the embedded engine reads each buyer's incoming links together
// (half the time of the same query written from the seller's side); counts of the pairs that qualify are
// integers on both engines (sums of CASE … 1 ELSE 0 are floating point on the embedded one).
MATCH (b:Firm)<-[r:SUPPLIES]-(s:Firm)
WHERE r.year = $year_from OR r.year = $year_to
WITH b, s, min(r.year) AS first_year, max(r.year) AS last_year
WITH b,
     count(CASE WHEN first_year = $year_from THEN 1 END) AS sellers_from,
     count(CASE WHEN last_year = $year_to THEN 1 END) AS sellers_to,
     count(*) AS pairs
RETURN b.tsr_id AS buyer_id, sellers_from, sellers_to, pairs - sellers_from AS added, pairs - sellers_to AS dropped,
       sellers_from + sellers_to - pairs AS continuing
ORDER BY buyer_id
