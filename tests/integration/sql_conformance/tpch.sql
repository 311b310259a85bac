-- SQL conformance queries over TPC-H at scale factor 0.01 (see test_sql_conformance.py).
--
-- Relations: customer, lineitem, nation, orders, part, partsupp, region, supplier, as
-- tpchgen-cli writes them (money as decimal(15, 2), dates as date). The first 22 entries are the
-- TPC-H queries (Q15's view as a CTE, ties in their ORDER BY broken by a key), with their
-- validation parameters except where those select nothing or a single row at SF 0.01 (Q11's
-- fraction, Q17's brand, Q20's and Q21's nation); the rest cover the dialect feature by
-- feature. Same rules as northwind.sql: no integer `/`, round() only on numeric(p, s), total
-- ORDER BYs, every statement valid in Postgres and DuckDB with the same meaning.

-- name: q01_pricing_summary
-- features: tpch_query, aggregate, group_by, date, order_by
SELECT l_returnflag, l_linestatus, SUM(l_quantity) AS sum_qty, SUM(l_extendedprice) AS sum_base_price,
       SUM(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
       SUM(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
       AVG(l_quantity) AS avg_qty, AVG(l_extendedprice) AS avg_price, AVG(l_discount) AS avg_disc,
       COUNT(*) AS count_order
FROM lineitem
WHERE l_shipdate <= DATE '1998-12-01' - INTERVAL '90' DAY
GROUP BY l_returnflag, l_linestatus
ORDER BY l_returnflag, l_linestatus;

-- name: q02_minimum_cost_supplier
-- features: tpch_query, correlated, subquery_scalar, inner_join, like, order_by, limit
SELECT s_acctbal, s_name, n_name, p_partkey, p_mfgr, s_address, s_phone, s_comment
FROM part, supplier, partsupp, nation, region
WHERE p_partkey = ps_partkey AND s_suppkey = ps_suppkey AND p_size = 15 AND p_type LIKE '%BRASS'
  AND s_nationkey = n_nationkey AND n_regionkey = r_regionkey AND r_name = 'EUROPE'
  AND ps_supplycost = (
    SELECT MIN(ps_supplycost) FROM partsupp, supplier, nation, region
    WHERE p_partkey = ps_partkey AND s_suppkey = ps_suppkey AND s_nationkey = n_nationkey
      AND n_regionkey = r_regionkey AND r_name = 'EUROPE')
ORDER BY s_acctbal DESC, n_name, s_name, p_partkey
LIMIT 100;

-- name: q03_shipping_priority
-- features: tpch_query, inner_join, aggregate, group_by, order_by, limit
SELECT l_orderkey, SUM(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, o_shippriority
FROM customer, orders, lineitem
WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey
  AND o_orderdate < DATE '1995-03-15' AND l_shipdate > DATE '1995-03-15'
GROUP BY l_orderkey, o_orderdate, o_shippriority
ORDER BY revenue DESC, o_orderdate, l_orderkey
LIMIT 10;

-- name: q04_order_priority
-- features: tpch_query, exists, correlated, date, group_by, order_by
SELECT o_orderpriority, COUNT(*) AS order_count FROM orders
WHERE o_orderdate >= DATE '1993-07-01' AND o_orderdate < DATE '1993-07-01' + INTERVAL '3' MONTH
  AND EXISTS (SELECT * FROM lineitem WHERE l_orderkey = o_orderkey AND l_commitdate < l_receiptdate)
GROUP BY o_orderpriority
ORDER BY o_orderpriority;

-- name: q05_local_supplier_volume
-- features: tpch_query, inner_join, aggregate, group_by, date, order_by
SELECT n_name, SUM(l_extendedprice * (1 - l_discount)) AS revenue
FROM customer, orders, lineitem, supplier, nation, region
WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey
  AND c_nationkey = s_nationkey AND s_nationkey = n_nationkey AND n_regionkey = r_regionkey
  AND r_name = 'ASIA' AND o_orderdate >= DATE '1994-01-01'
  AND o_orderdate < DATE '1994-01-01' + INTERVAL '1' YEAR
GROUP BY n_name
ORDER BY revenue DESC, n_name;

-- name: q06_forecast_revenue
-- features: tpch_query, aggregate, between, arithmetic, date
SELECT SUM(l_extendedprice * l_discount) AS revenue FROM lineitem
WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1994-01-01' + INTERVAL '1' YEAR
  AND l_discount BETWEEN 0.06 - 0.01 AND 0.06 + 0.01 AND l_quantity < 24;

-- name: q07_volume_shipping
-- features: tpch_query, derived_table, inner_join, self_join, date, group_by, order_by
SELECT supp_nation, cust_nation, l_year, SUM(volume) AS revenue FROM (
  SELECT n1.n_name AS supp_nation, n2.n_name AS cust_nation, EXTRACT(YEAR FROM l_shipdate) AS l_year,
         l_extendedprice * (1 - l_discount) AS volume
  FROM supplier, lineitem, orders, customer, nation n1, nation n2
  WHERE s_suppkey = l_suppkey AND o_orderkey = l_orderkey AND c_custkey = o_custkey
    AND s_nationkey = n1.n_nationkey AND c_nationkey = n2.n_nationkey
    AND ((n1.n_name = 'FRANCE' AND n2.n_name = 'GERMANY') OR (n1.n_name = 'GERMANY' AND n2.n_name = 'FRANCE'))
    AND l_shipdate BETWEEN DATE '1995-01-01' AND DATE '1996-12-31'
) AS shipping
GROUP BY supp_nation, cust_nation, l_year
ORDER BY supp_nation, cust_nation, l_year;

-- name: q08_national_market_share
-- features: tpch_query, derived_table, case, aggregate, inner_join, date, order_by
SELECT o_year, SUM(CASE WHEN nation = 'BRAZIL' THEN volume ELSE 0 END) / SUM(volume) AS mkt_share
FROM (
  SELECT EXTRACT(YEAR FROM o_orderdate) AS o_year, l_extendedprice * (1 - l_discount) AS volume,
         n2.n_name AS nation
  FROM part, supplier, lineitem, orders, customer, nation n1, nation n2, region
  WHERE p_partkey = l_partkey AND s_suppkey = l_suppkey AND l_orderkey = o_orderkey
    AND o_custkey = c_custkey AND c_nationkey = n1.n_nationkey AND n1.n_regionkey = r_regionkey
    AND r_name = 'AMERICA' AND s_nationkey = n2.n_nationkey
    AND o_orderdate BETWEEN DATE '1995-01-01' AND DATE '1996-12-31'
    AND p_type = 'ECONOMY ANODIZED STEEL'
) AS all_nations
GROUP BY o_year
ORDER BY o_year;

-- name: q09_product_type_profit
-- features: tpch_query, derived_table, like, inner_join, date, order_by
SELECT nation, o_year, SUM(amount) AS sum_profit FROM (
  SELECT n_name AS nation, EXTRACT(YEAR FROM o_orderdate) AS o_year,
         l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity AS amount
  FROM part, supplier, lineitem, partsupp, orders, nation
  WHERE s_suppkey = l_suppkey AND ps_suppkey = l_suppkey AND ps_partkey = l_partkey
    AND p_partkey = l_partkey AND o_orderkey = l_orderkey AND s_nationkey = n_nationkey
    AND p_name LIKE '%green%'
) AS profit
GROUP BY nation, o_year
ORDER BY nation, o_year DESC;

-- name: q10_returned_items
-- features: tpch_query, inner_join, aggregate, group_by, date, order_by, limit
SELECT c_custkey, c_name, SUM(l_extendedprice * (1 - l_discount)) AS revenue, c_acctbal, n_name,
       c_address, c_phone, c_comment
FROM customer, orders, lineitem, nation
WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND o_orderdate >= DATE '1993-10-01'
  AND o_orderdate < DATE '1993-10-01' + INTERVAL '3' MONTH AND l_returnflag = 'R'
  AND c_nationkey = n_nationkey
GROUP BY c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
ORDER BY revenue DESC, c_custkey
LIMIT 20;

-- name: q11_important_stock
-- features: tpch_query, having, subquery_scalar, group_by, order_by
SELECT ps_partkey, SUM(ps_supplycost * ps_availqty) AS value
FROM partsupp, supplier, nation
WHERE ps_suppkey = s_suppkey AND s_nationkey = n_nationkey AND n_name = 'GERMANY'
GROUP BY ps_partkey
HAVING SUM(ps_supplycost * ps_availqty) > (
  SELECT SUM(ps_supplycost * ps_availqty) * 0.005 FROM partsupp, supplier, nation
  WHERE ps_suppkey = s_suppkey AND s_nationkey = n_nationkey AND n_name = 'GERMANY')
ORDER BY value DESC, ps_partkey;

-- name: q12_shipping_modes
-- features: tpch_query, case, in, aggregate, date, order_by
SELECT l_shipmode,
       SUM(CASE WHEN o_orderpriority = '1-URGENT' OR o_orderpriority = '2-HIGH' THEN 1 ELSE 0 END) AS high_line_count,
       SUM(CASE WHEN o_orderpriority <> '1-URGENT' AND o_orderpriority <> '2-HIGH' THEN 1 ELSE 0 END) AS low_line_count
FROM orders, lineitem
WHERE o_orderkey = l_orderkey AND l_shipmode IN ('MAIL', 'SHIP') AND l_commitdate < l_receiptdate
  AND l_shipdate < l_commitdate AND l_receiptdate >= DATE '1994-01-01'
  AND l_receiptdate < DATE '1994-01-01' + INTERVAL '1' YEAR
GROUP BY l_shipmode
ORDER BY l_shipmode;

-- name: q13_customer_distribution
-- features: tpch_query, left_join, like, derived_table, group_by, order_by
SELECT c_count, COUNT(*) AS custdist FROM (
  SELECT c_custkey, COUNT(o_orderkey) FROM customer
  LEFT OUTER JOIN orders ON c_custkey = o_custkey AND o_comment NOT LIKE '%special%requests%'
  GROUP BY c_custkey
) AS c_orders (c_custkey, c_count)
GROUP BY c_count
ORDER BY custdist DESC, c_count DESC;

-- name: q14_promotion_effect
-- features: tpch_query, case, like, aggregate, date
SELECT 100.00 * SUM(CASE WHEN p_type LIKE 'PROMO%' THEN l_extendedprice * (1 - l_discount) ELSE 0 END)
       / SUM(l_extendedprice * (1 - l_discount)) AS promo_revenue
FROM lineitem, part
WHERE l_partkey = p_partkey AND l_shipdate >= DATE '1995-09-01'
  AND l_shipdate < DATE '1995-09-01' + INTERVAL '1' MONTH;

-- name: q15_top_supplier
-- features: tpch_query, cte, subquery_scalar, order_by
WITH revenue0 (supplier_no, total_revenue) AS (
  SELECT l_suppkey, SUM(l_extendedprice * (1 - l_discount)) FROM lineitem
  WHERE l_shipdate >= DATE '1996-01-01' AND l_shipdate < DATE '1996-01-01' + INTERVAL '3' MONTH
  GROUP BY l_suppkey
)
SELECT s_suppkey, s_name, s_address, s_phone, total_revenue FROM supplier, revenue0
WHERE s_suppkey = supplier_no AND total_revenue = (SELECT MAX(total_revenue) FROM revenue0)
ORDER BY s_suppkey;

-- name: q16_parts_supplier_relationship
-- features: tpch_query, count_distinct, subquery_in, in, like, group_by, order_by
SELECT p_brand, p_type, p_size, COUNT(DISTINCT ps_suppkey) AS supplier_cnt
FROM partsupp, part
WHERE p_partkey = ps_partkey AND p_brand <> 'Brand#45' AND p_type NOT LIKE 'MEDIUM POLISHED%'
  AND p_size IN (49, 14, 23, 45, 19, 3, 36, 9)
  AND ps_suppkey NOT IN (SELECT s_suppkey FROM supplier WHERE s_comment LIKE '%Customer%Complaints%')
GROUP BY p_brand, p_type, p_size
ORDER BY supplier_cnt DESC, p_brand, p_type, p_size;

-- name: q17_small_quantity_order_revenue
-- features: tpch_query, correlated, subquery_scalar, aggregate
SELECT SUM(l_extendedprice) / 7.0 AS avg_yearly FROM lineitem, part
WHERE p_partkey = l_partkey AND p_brand = 'Brand#41' AND p_container = 'MED BOX'
  AND l_quantity < (SELECT 0.2 * AVG(l_quantity) FROM lineitem WHERE l_partkey = p_partkey);

-- name: q18_large_volume_customer
-- features: tpch_query, subquery_in, having, group_by, order_by, limit
SELECT c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, SUM(l_quantity)
FROM customer, orders, lineitem
WHERE o_orderkey IN (SELECT l_orderkey FROM lineitem GROUP BY l_orderkey HAVING SUM(l_quantity) > 300)
  AND c_custkey = o_custkey AND o_orderkey = l_orderkey
GROUP BY c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice
ORDER BY o_totalprice DESC, o_orderdate, o_orderkey
LIMIT 100;

-- name: q19_discounted_revenue
-- features: tpch_query, in, between, boolean, aggregate
SELECT SUM(l_extendedprice * (1 - l_discount)) AS revenue FROM lineitem, part
WHERE (p_partkey = l_partkey AND p_brand = 'Brand#12'
       AND p_container IN ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG') AND l_quantity >= 1
       AND l_quantity <= 1 + 10 AND p_size BETWEEN 1 AND 5 AND l_shipmode IN ('AIR', 'AIR REG')
       AND l_shipinstruct = 'DELIVER IN PERSON')
   OR (p_partkey = l_partkey AND p_brand = 'Brand#23'
       AND p_container IN ('MED BAG', 'MED BOX', 'MED PKG', 'MED PACK') AND l_quantity >= 10
       AND l_quantity <= 10 + 10 AND p_size BETWEEN 1 AND 10 AND l_shipmode IN ('AIR', 'AIR REG')
       AND l_shipinstruct = 'DELIVER IN PERSON')
   OR (p_partkey = l_partkey AND p_brand = 'Brand#34'
       AND p_container IN ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG') AND l_quantity >= 20
       AND l_quantity <= 20 + 10 AND p_size BETWEEN 1 AND 15 AND l_shipmode IN ('AIR', 'AIR REG')
       AND l_shipinstruct = 'DELIVER IN PERSON');

-- name: q20_potential_part_promotion
-- features: tpch_query, subquery_in, correlated, like, date, order_by
SELECT s_name, s_address FROM supplier, nation
WHERE s_suppkey IN (
    SELECT ps_suppkey FROM partsupp
    WHERE ps_partkey IN (SELECT p_partkey FROM part WHERE p_name LIKE 'forest%')
      AND ps_availqty > (
        SELECT 0.5 * SUM(l_quantity) FROM lineitem
        WHERE l_partkey = ps_partkey AND l_suppkey = ps_suppkey AND l_shipdate >= DATE '1994-01-01'
          AND l_shipdate < DATE '1994-01-01' + INTERVAL '1' YEAR))
  AND s_nationkey = n_nationkey AND n_name = 'CHINA'
ORDER BY s_name;

-- name: q21_suppliers_who_kept_orders_waiting
-- features: tpch_query, exists, correlated, self_join, group_by, order_by, limit
SELECT s_name, COUNT(*) AS numwait
FROM supplier, lineitem l1, orders, nation
WHERE s_suppkey = l1.l_suppkey AND o_orderkey = l1.l_orderkey AND o_orderstatus = 'F'
  AND l1.l_receiptdate > l1.l_commitdate
  AND EXISTS (SELECT * FROM lineitem l2 WHERE l2.l_orderkey = l1.l_orderkey AND l2.l_suppkey <> l1.l_suppkey)
  AND NOT EXISTS (SELECT * FROM lineitem l3 WHERE l3.l_orderkey = l1.l_orderkey
                  AND l3.l_suppkey <> l1.l_suppkey AND l3.l_receiptdate > l3.l_commitdate)
  AND s_nationkey = n_nationkey AND n_name = 'UNITED STATES'
GROUP BY s_name
ORDER BY numwait DESC, s_name
LIMIT 100;

-- name: q22_global_sales_opportunity
-- features: tpch_query, string, in, subquery_scalar, exists, derived_table, order_by
SELECT cntrycode, COUNT(*) AS numcust, SUM(c_acctbal) AS totacctbal FROM (
  SELECT SUBSTRING(c_phone FROM 1 FOR 2) AS cntrycode, c_acctbal FROM customer
  WHERE SUBSTRING(c_phone FROM 1 FOR 2) IN ('13', '31', '23', '29', '30', '18', '17')
    AND c_acctbal > (SELECT AVG(c_acctbal) FROM customer WHERE c_acctbal > 0.00
                     AND SUBSTRING(c_phone FROM 1 FOR 2) IN ('13', '31', '23', '29', '30', '18', '17'))
    AND NOT EXISTS (SELECT * FROM orders WHERE o_custkey = c_custkey)
) AS custsale
GROUP BY cntrycode
ORDER BY cntrycode;

-- name: select_star_region
-- features: projection
SELECT * FROM region;

-- name: projection_decimal_arithmetic
-- features: projection, arithmetic
SELECT l_orderkey, l_linenumber, l_extendedprice * (1 - l_discount) AS net,
       l_extendedprice * (1 - l_discount) * (1 + l_tax) AS charge, l_quantity * 2 - 1 AS odd
FROM lineitem WHERE l_orderkey < 200;

-- name: where_decimal_comparisons
-- features: where, comparison
SELECT c_custkey, c_acctbal FROM customer WHERE c_acctbal < 0 OR c_acctbal >= 9900.50;

-- name: where_date_equals
-- features: where, comparison, date
SELECT o_orderkey, o_custkey FROM orders WHERE o_orderdate = DATE '1996-01-02';

-- name: where_date_between
-- features: where, between, date
SELECT COUNT(*) FROM lineitem WHERE l_shipdate BETWEEN DATE '1995-06-01' AND DATE '1995-06-30';

-- name: where_text_not_equal_and_in
-- features: where, in, comparison
SELECT o_orderkey FROM orders
WHERE o_orderstatus <> 'F' AND o_orderpriority IN ('1-URGENT', '5-LOW') AND o_custkey < 50;

-- name: where_not_in_strings
-- features: where, in
SELECT p_partkey FROM part WHERE p_container NOT IN ('SM CASE', 'LG BOX', 'MED BAG', 'JUMBO PKG', 'WRAP DRUM')
  AND p_size > 45;

-- name: where_like_patterns
-- features: where, like
SELECT p_partkey, p_name FROM part WHERE p_name LIKE 'a%' AND p_type LIKE '%TIN' AND p_brand LIKE 'Brand#_3';

-- name: where_ilike_comment
-- features: where, ilike
SELECT s_suppkey FROM supplier WHERE s_comment ILIKE '%CAREFUL%' OR s_name ILIKE '%000000007';

-- name: where_between_symmetric_bounds
-- features: where, between
SELECT ps_partkey, ps_suppkey FROM partsupp WHERE ps_availqty BETWEEN 9990 AND 9999 AND ps_supplycost NOT BETWEEN 100 AND 900;

-- name: case_priority_buckets
-- features: case, group_by, aggregate
SELECT CASE WHEN o_orderpriority IN ('1-URGENT', '2-HIGH') THEN 'high'
            WHEN o_orderpriority = '3-MEDIUM' THEN 'medium' ELSE 'low' END AS bucket,
       COUNT(*) AS orders, SUM(o_totalprice) AS value
FROM orders GROUP BY 1;

-- name: case_in_aggregate_ratio
-- features: case, aggregate, cast
SELECT l_shipmode,
       CAST(SUM(CASE WHEN l_returnflag = 'R' THEN 1 ELSE 0 END) AS double precision) / COUNT(*) AS returned_share
FROM lineitem GROUP BY l_shipmode;

-- name: coalesce_after_left_join
-- features: coalesce, left_join, aggregate, group_by
SELECT c.c_custkey, COALESCE(SUM(o.o_totalprice), 0) AS spent, COUNT(o.o_orderkey) AS orders
FROM customer c LEFT JOIN orders o ON o.o_custkey = c.c_custkey
WHERE c.c_custkey <= 60 GROUP BY c.c_custkey;

-- name: nullif_and_is_null
-- features: nullif, is_null
SELECT n_nationkey, NULLIF(n_regionkey, 0) AS region_or_null, NULLIF(n_regionkey, 0) IS NULL AS in_africa
FROM nation;

-- name: cast_decimal_to_double_and_text
-- features: cast
SELECT o_orderkey, CAST(o_totalprice AS double precision) AS price_double,
       CAST(o_orderdate AS varchar) AS day_text, CAST(o_shippriority AS bigint) AS priority
FROM orders WHERE o_orderkey < 100;

-- name: cast_text_to_numbers_and_date
-- features: cast, string, date
SELECT c_custkey, CAST(SUBSTRING(c_phone FROM 1 FOR 2) AS integer) AS country_code,
       CAST(SUBSTRING(c_name FROM 10) AS bigint) AS number_in_name,
       CAST('1995-0' || CAST(c_custkey % 9 + 1 AS varchar) || '-15' AS date) AS some_day
FROM customer WHERE c_custkey <= 30;

-- name: cast_decimal_precision
-- features: cast, math
SELECT l_orderkey, l_linenumber, CAST(l_extendedprice * (1 - l_discount) AS numeric(15, 1)) AS net_1,
       ROUND(l_extendedprice * (1 - l_discount) * (1 + l_tax), 2) AS charge_2
FROM lineitem WHERE l_orderkey < 100;

-- name: arithmetic_modulo_and_negation
-- features: arithmetic
SELECT o_orderkey, o_orderkey % 7 AS mod7, -o_custkey AS neg, o_custkey * 2 + o_shippriority AS expr
FROM orders WHERE o_orderkey < 300;

-- name: math_functions_decimals
-- features: math
SELECT c_custkey, ABS(c_acctbal) AS absolute, CEIL(c_acctbal) AS up, FLOOR(c_acctbal) AS down,
       ROUND(c_acctbal) AS nearest, ROUND(c_acctbal, 1) AS tenth, SIGN(c_acctbal) AS sign
FROM customer WHERE c_custkey <= 100;

-- name: math_functions_floats
-- features: math, cast
SELECT p_partkey, SQRT(CAST(p_size AS double precision)) AS root, LN(p_retailprice) AS ln_price,
       EXP(CAST(p_size AS double precision) / 10) AS growth, POWER(CAST(p_size AS double precision), 3) AS cube
FROM part WHERE p_partkey <= 100;

-- name: string_upper_lower_length
-- features: string
SELECT n_nationkey, LOWER(n_name) AS lower_name, UPPER(LOWER(n_name)) AS upper_again,
       LENGTH(n_comment) AS comment_length
FROM nation;

-- name: string_concat_substring_position
-- features: string
SELECT c_custkey, c_mktsegment || ':' || SUBSTRING(c_name FROM 10 FOR 9) AS label,
       POSITION('#' IN c_name) AS hash_at, SUBSTRING(c_phone, 4, 3) AS area
FROM customer WHERE c_custkey <= 50;

-- name: string_replace_trim_split
-- features: string
SELECT p_partkey, REPLACE(p_type, ' ', '_') AS type_key, TRIM(p_container) AS container,
       SPLIT_PART(p_type, ' ', 2) AS second_word, LTRIM(p_brand, 'Brand#') AS brand_no
FROM part WHERE p_partkey <= 100;

-- name: string_group_by_prefix
-- features: string, group_by, aggregate
SELECT LEFT(p_type, STRPOS(p_type, ' ') - 1) AS family, COUNT(*) AS parts, MAX(p_retailprice) AS top
FROM part GROUP BY LEFT(p_type, STRPOS(p_type, ' ') - 1);

-- name: string_like_on_expression
-- features: string, like, where
SELECT c_custkey FROM customer WHERE LOWER(c_mktsegment) LIKE '%tom%' AND c_custkey < 200;

-- name: date_extract_parts
-- features: date
SELECT o_orderkey, EXTRACT(YEAR FROM o_orderdate) AS y, EXTRACT(MONTH FROM o_orderdate) AS m,
       EXTRACT(DAY FROM o_orderdate) AS d, EXTRACT(DOW FROM o_orderdate) AS dow,
       EXTRACT(WEEK FROM o_orderdate) AS iso_week, EXTRACT(QUARTER FROM o_orderdate) AS q
FROM orders WHERE o_orderkey < 500;

-- name: date_trunc_on_dates
-- features: date, group_by, aggregate
SELECT DATE_TRUNC('month', o_orderdate) AS month, COUNT(*) AS orders, SUM(o_totalprice) AS value
FROM orders WHERE o_orderdate < DATE '1993-01-01' GROUP BY DATE_TRUNC('month', o_orderdate);

-- name: date_trunc_quarter_cast_to_date
-- features: date, cast, group_by
SELECT CAST(DATE_TRUNC('quarter', l_shipdate) AS date) AS quarter, COUNT(*) AS lines
FROM lineitem GROUP BY 1;

-- name: date_plus_integer_and_difference
-- features: date, arithmetic
SELECT l_orderkey, l_linenumber, l_shipdate + 7 AS week_later, l_receiptdate - l_shipdate AS transit_days,
       l_commitdate - 1 AS day_before
FROM lineitem WHERE l_orderkey < 100;

-- name: date_plus_intervals
-- features: date, arithmetic
SELECT o_orderkey, o_orderdate + INTERVAL '1 month' AS next_month,
       o_orderdate + INTERVAL '1 year' - INTERVAL '1 day' AS year_end,
       o_orderdate + INTERVAL '36 hours' AS later
FROM orders WHERE o_orderkey < 200;

-- name: date_interval_filter
-- features: date, where, aggregate
SELECT COUNT(*) AS late FROM lineitem WHERE l_receiptdate > l_commitdate + INTERVAL '30 days';

-- name: date_min_max_by_group
-- features: date, aggregate, group_by
SELECT l_shipmode, MIN(l_shipdate) AS first, MAX(l_receiptdate) AS last, AVG(l_receiptdate - l_shipdate) AS avg_transit
FROM lineitem GROUP BY l_shipmode;

-- name: aggregate_count_distinct
-- features: aggregate, count_distinct
SELECT COUNT(DISTINCT l_orderkey) AS orders, COUNT(DISTINCT l_partkey) AS parts,
       COUNT(DISTINCT l_shipmode) AS modes, COUNT(*) AS lines
FROM lineitem;

-- name: aggregate_decimal_sum_avg_min_max
-- features: aggregate
SELECT SUM(o_totalprice) AS total, AVG(o_totalprice) AS mean, MIN(o_totalprice) AS least,
       MAX(o_totalprice) AS most, MIN(o_clerk) AS first_clerk
FROM orders;

-- name: aggregate_filter_clauses
-- features: aggregate, filter, group_by
SELECT l_returnflag,
       COUNT(*) FILTER (WHERE l_shipmode = 'AIR') AS air,
       SUM(l_quantity) FILTER (WHERE l_discount > 0.05) AS discounted_qty,
       AVG(l_extendedprice) FILTER (WHERE l_tax = 0) AS untaxed_price,
       COUNT(DISTINCT l_suppkey) FILTER (WHERE l_quantity > 45) AS big_suppliers
FROM lineitem GROUP BY l_returnflag;

-- name: aggregate_stddev_variance
-- features: aggregate
SELECT c_mktsegment, STDDEV_POP(c_acctbal) AS sd_pop, STDDEV_SAMP(c_acctbal) AS sd,
       VAR_SAMP(c_acctbal) AS var
FROM customer GROUP BY c_mktsegment;

-- name: group_by_having_count_distinct
-- features: group_by, having, count_distinct
SELECT o_custkey, COUNT(DISTINCT o_clerk) AS clerks FROM orders
GROUP BY o_custkey HAVING COUNT(DISTINCT o_clerk) >= 20;

-- name: group_by_multiple_having_sum
-- features: group_by, having, aggregate
SELECT l_suppkey, l_shipmode, SUM(l_quantity) AS qty FROM lineitem
GROUP BY l_suppkey, l_shipmode HAVING SUM(l_quantity) > 1300;

-- name: group_by_cube
-- features: group_by, grouping_sets, aggregate
SELECT l_returnflag, l_linestatus, COUNT(*) AS lines, GROUPING(l_returnflag) AS all_flags
FROM lineitem GROUP BY CUBE (l_returnflag, l_linestatus);

-- name: group_by_grouping_sets
-- features: group_by, grouping_sets, aggregate
SELECT o_orderstatus, o_orderpriority, COUNT(*) AS orders
FROM orders GROUP BY GROUPING SETS ((o_orderstatus), (o_orderpriority), ());

-- name: order_by_nulls_last_after_left_join
-- features: order_by, nulls_order, left_join
SELECT c.c_custkey, MAX(o.o_orderdate) AS last_order
FROM customer c LEFT JOIN orders o ON o.o_custkey = c.c_custkey
WHERE c.c_custkey <= 40 GROUP BY c.c_custkey
ORDER BY last_order DESC NULLS LAST, c.c_custkey;

-- name: order_by_nulls_first_after_left_join
-- features: order_by, nulls_order, left_join
SELECT c.c_custkey, MIN(o.o_totalprice) AS smallest
FROM customer c LEFT JOIN orders o ON o.o_custkey = c.c_custkey
WHERE c.c_custkey <= 40 GROUP BY c.c_custkey
ORDER BY smallest NULLS FIRST, c.c_custkey;

-- name: order_by_desc_limit_offset
-- features: order_by, limit, offset
SELECT o_orderkey, o_totalprice FROM orders ORDER BY o_totalprice DESC, o_orderkey LIMIT 15 OFFSET 5;

-- name: order_by_text_and_fetch
-- features: order_by, fetch
SELECT p_name, p_partkey FROM part ORDER BY p_name, p_partkey FETCH FIRST 12 ROWS ONLY;

-- name: order_by_case_expression
-- features: order_by, case
SELECT n_name, n_regionkey FROM nation
ORDER BY CASE WHEN n_regionkey = 2 THEN 0 ELSE 1 END, n_name;

-- name: distinct_pairs
-- features: distinct
SELECT DISTINCT l_returnflag, l_linestatus, l_shipmode FROM lineitem;

-- name: distinct_on_best_supplier
-- features: distinct_on, order_by
SELECT DISTINCT ON (ps_partkey) ps_partkey, ps_suppkey, ps_supplycost FROM partsupp
WHERE ps_partkey <= 50 ORDER BY ps_partkey, ps_supplycost, ps_suppkey;

-- name: join_explicit_chain
-- features: inner_join, group_by, aggregate
SELECT r.r_name, COUNT(DISTINCT c.c_custkey) AS customers, SUM(o.o_totalprice) AS value
FROM region r
JOIN nation n ON n.n_regionkey = r.r_regionkey
JOIN customer c ON c.c_nationkey = n.n_nationkey
JOIN orders o ON o.o_custkey = c.c_custkey
GROUP BY r.r_name;

-- name: join_natural_and_using
-- features: inner_join
SELECT n_nationkey, n_name, r_name FROM nation JOIN region ON n_regionkey = r_regionkey
JOIN (SELECT s_nationkey AS n_nationkey, COUNT(*) AS suppliers FROM supplier GROUP BY s_nationkey) s
USING (n_nationkey);

-- name: left_join_anti
-- features: left_join, is_null
SELECT o.o_orderkey, o.o_orderdate FROM orders o
LEFT JOIN lineitem l ON l.l_orderkey = o.o_orderkey AND l.l_shipmode = 'AIR'
WHERE l.l_orderkey IS NULL AND o.o_custkey < 300;

-- name: right_join_counts
-- features: right_join, aggregate, group_by
SELECT n.n_name, COUNT(s.s_suppkey) AS suppliers
FROM supplier s RIGHT JOIN nation n ON n.n_nationkey = s.s_nationkey GROUP BY n.n_name;

-- name: full_join_nations_sides
-- features: full_join, coalesce, derived_table
SELECT COALESCE(a.nation, b.nation) AS nation, a.suppliers, b.customers FROM
  (SELECT s_nationkey AS nation, COUNT(*) AS suppliers FROM supplier WHERE s_acctbal > 5000 GROUP BY s_nationkey) a
FULL OUTER JOIN
  (SELECT c_nationkey AS nation, COUNT(*) AS customers FROM customer WHERE c_acctbal > 9500 GROUP BY c_nationkey) b
ON a.nation = b.nation;

-- name: self_join_same_nation
-- features: self_join
SELECT a.s_suppkey, b.s_suppkey AS peer FROM supplier a
JOIN supplier b ON a.s_nationkey = b.s_nationkey AND a.s_suppkey < b.s_suppkey
WHERE a.s_nationkey IN (1, 2, 3);

-- name: cross_join_filtered
-- features: cross_join
SELECT r.r_name, n.n_name FROM region r CROSS JOIN nation n WHERE n.n_nationkey < 3;

-- name: subquery_scalar_max
-- features: subquery_scalar
SELECT o_orderkey, o_totalprice FROM orders WHERE o_totalprice = (SELECT MAX(o_totalprice) FROM orders);

-- name: subquery_in_nested
-- features: subquery_in
SELECT c_custkey FROM customer WHERE c_nationkey IN (
  SELECT n_nationkey FROM nation WHERE n_regionkey IN (SELECT r_regionkey FROM region WHERE r_name LIKE 'A%'))
  AND c_acctbal > 9000;

-- name: subquery_exists_and_not_exists
-- features: exists, correlated
SELECT c_custkey FROM customer c
WHERE EXISTS (SELECT 1 FROM orders o WHERE o.o_custkey = c.c_custkey AND o.o_orderpriority = '1-URGENT')
  AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.o_custkey = c.c_custkey AND o.o_orderstatus = 'P');

-- name: subquery_correlated_in_select
-- features: correlated, subquery_scalar
SELECT n.n_name, (SELECT COUNT(*) FROM customer c WHERE c.c_nationkey = n.n_nationkey) AS customers,
       (SELECT MAX(s.s_acctbal) FROM supplier s WHERE s.s_nationkey = n.n_nationkey) AS richest_supplier
FROM nation n;

-- name: subquery_derived_aggregate_of_aggregate
-- features: derived_table, aggregate
SELECT AVG(lines) AS avg_lines, MAX(lines) AS max_lines FROM (
  SELECT l_orderkey, COUNT(*) AS lines FROM lineitem GROUP BY l_orderkey) per_order;

-- name: cte_chained_three
-- features: cte, cte_chained, inner_join
WITH order_value AS (
  SELECT l_orderkey, SUM(l_extendedprice * (1 - l_discount)) AS net FROM lineitem GROUP BY l_orderkey
), customer_value AS (
  SELECT o.o_custkey, SUM(v.net) AS net FROM orders o JOIN order_value v ON v.l_orderkey = o.o_orderkey
  GROUP BY o.o_custkey
), nation_value AS (
  SELECT c.c_nationkey, SUM(cv.net) AS net, COUNT(*) AS customers
  FROM customer c JOIN customer_value cv ON cv.o_custkey = c.c_custkey GROUP BY c.c_nationkey
)
SELECT n.n_name, nv.customers, nv.net FROM nation_value nv JOIN nation n ON n.n_nationkey = nv.c_nationkey;

-- name: cte_two_independent
-- features: cte, cross_join
WITH orders_1995 AS (SELECT COUNT(*) AS n FROM orders WHERE EXTRACT(YEAR FROM o_orderdate) = 1995),
     orders_1996 AS (SELECT COUNT(*) AS n FROM orders WHERE EXTRACT(YEAR FROM o_orderdate) = 1996)
SELECT a.n AS y1995, b.n AS y1996, b.n - a.n AS change FROM orders_1995 a CROSS JOIN orders_1996 b;

-- name: cte_recursive_counter
-- features: cte, recursive_cte
WITH RECURSIVE years (y) AS (SELECT 1992 UNION ALL SELECT y + 1 FROM years WHERE y < 1998)
SELECT y, (SELECT COUNT(*) FROM orders WHERE EXTRACT(YEAR FROM o_orderdate) = y) AS orders FROM years;

-- name: window_row_number_per_customer
-- features: window, row_number
SELECT o_orderkey, o_custkey,
       ROW_NUMBER() OVER (PARTITION BY o_custkey ORDER BY o_orderdate, o_orderkey) AS nth
FROM orders WHERE o_custkey <= 100;

-- name: window_rank_dense_rank_ties
-- features: window, rank
SELECT p_partkey, p_size, RANK() OVER (PARTITION BY p_mfgr ORDER BY p_size) AS rnk,
       DENSE_RANK() OVER (PARTITION BY p_mfgr ORDER BY p_size) AS dense
FROM part WHERE p_partkey <= 300;

-- name: window_lag_lead_defaults
-- features: window, lag_lead
SELECT o_orderkey, o_custkey, o_totalprice,
       o_totalprice - LAG(o_totalprice, 1, 0) OVER (PARTITION BY o_custkey ORDER BY o_orderdate, o_orderkey) AS change,
       LEAD(o_orderdate, 2) OVER (PARTITION BY o_custkey ORDER BY o_orderdate, o_orderkey) AS two_later
FROM orders WHERE o_custkey <= 60;

-- name: window_running_totals
-- features: window, window_frame
SELECT o_orderkey, o_custkey,
       SUM(o_totalprice) OVER (PARTITION BY o_custkey ORDER BY o_orderdate, o_orderkey
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
       COUNT(*) OVER (PARTITION BY o_custkey ORDER BY o_orderdate, o_orderkey
                      ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS neighbours
FROM orders WHERE o_custkey <= 80;

-- name: window_moving_average_range
-- features: window, window_frame
SELECT o_orderdate, daily, AVG(daily) OVER (ORDER BY o_orderdate ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS week_avg
FROM (SELECT o_orderdate, SUM(o_totalprice) AS daily FROM orders GROUP BY o_orderdate) d;

-- name: window_ntile_buckets
-- features: window, ntile
SELECT c_custkey, c_acctbal, NTILE(10) OVER (ORDER BY c_acctbal, c_custkey) AS decile,
       NTILE(3) OVER (PARTITION BY c_mktsegment ORDER BY c_acctbal DESC, c_custkey) AS tercile
FROM customer;

-- name: window_share_of_partition
-- features: window, arithmetic
SELECT n_name, c_custkey, c_acctbal, c_acctbal / SUM(c_acctbal) OVER (PARTITION BY n_name) AS share
FROM customer JOIN nation ON n_nationkey = c_nationkey WHERE c_acctbal > 9000;

-- name: window_nth_value_and_last
-- features: window, window_frame
SELECT r_name, n_name,
       NTH_VALUE(n_name, 2) OVER (PARTITION BY r_name ORDER BY n_name ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS second,
       LAST_VALUE(n_name) OVER (PARTITION BY r_name ORDER BY n_name ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last
FROM nation JOIN region ON r_regionkey = n_regionkey;

-- name: window_rank_filter_top_n_per_group
-- features: window, rank, cte, order_by
WITH ranked AS (
  SELECT n_name, c_custkey, c_acctbal,
         RANK() OVER (PARTITION BY n_name ORDER BY c_acctbal DESC, c_custkey) AS r
  FROM customer JOIN nation ON n_nationkey = c_nationkey
)
SELECT n_name, c_custkey, c_acctbal, r FROM ranked WHERE r <= 3 ORDER BY n_name, r;

-- name: union_all_keeps_duplicates
-- features: union_all
SELECT n_regionkey AS k FROM nation UNION ALL SELECT r_regionkey FROM region;

-- name: union_removes_duplicates
-- features: set_union
SELECT n_regionkey AS k FROM nation UNION SELECT r_regionkey FROM region;

-- name: intersect_customers
-- features: intersect
SELECT o_custkey FROM orders WHERE o_orderpriority = '1-URGENT'
INTERSECT SELECT o_custkey FROM orders WHERE o_orderpriority = '5-LOW';

-- name: except_customers
-- features: except
SELECT c_custkey FROM customer EXCEPT SELECT o_custkey FROM orders;

-- name: intersect_all_and_except_all
-- features: intersect, except
(SELECT l_shipmode FROM lineitem WHERE l_orderkey < 50 INTERSECT ALL SELECT l_shipmode FROM lineitem WHERE l_orderkey BETWEEN 50 AND 100)
EXCEPT ALL SELECT l_shipmode FROM lineitem WHERE l_orderkey < 10;

-- name: union_ordered_with_limit
-- features: set_union, order_by, limit
SELECT s_name AS name, s_acctbal AS balance FROM supplier WHERE s_acctbal > 9000
UNION SELECT c_name, c_acctbal FROM customer WHERE c_acctbal > 9950
ORDER BY balance DESC, name LIMIT 10;

-- name: lateral_latest_orders
-- features: lateral, correlated, order_by, limit
SELECT c.c_custkey, latest.o_orderkey, latest.o_orderdate FROM customer c
CROSS JOIN LATERAL (
  SELECT o.o_orderkey, o.o_orderdate FROM orders o WHERE o.o_custkey = c.c_custkey
  ORDER BY o.o_orderdate DESC, o.o_orderkey DESC LIMIT 2
) latest
WHERE c.c_custkey <= 25;

-- name: boolean_expressions_as_values
-- features: boolean, projection
SELECT o_orderkey, o_orderstatus = 'F' AS finished, o_totalprice > 100000 AND o_orderpriority = '1-URGENT' AS big_urgent,
       NOT (o_shippriority = 0) AS prioritised
FROM orders WHERE o_orderkey < 100;

-- name: cast_decimal_to_integer_halves
-- features: cast, math
SELECT o_orderkey, o_totalprice, CAST(o_totalprice AS bigint) AS whole, ROUND(o_totalprice) AS rounded,
       CAST(o_totalprice / 1000 AS integer) AS thousands
FROM orders WHERE o_orderkey < 3000;

-- name: except_all_and_union_all_mixed
-- features: except, union_all, derived_table, aggregate
SELECT l_shipmode, COUNT(*) FROM (
  SELECT l_shipmode FROM lineitem WHERE l_orderkey < 200
  EXCEPT ALL SELECT l_shipmode FROM lineitem WHERE l_orderkey < 100
  UNION ALL SELECT 'NONE'
) modes GROUP BY l_shipmode;

-- name: round_negative_and_trunc
-- features: math
SELECT o_orderkey, ROUND(o_totalprice, -2) AS hundreds, TRUNC(o_totalprice, 1) AS tenths,
       TRUNC(o_totalprice) AS whole
FROM orders WHERE o_orderkey < 500;

-- name: epoch_to_timestamp
-- features: date, cast
SELECT o_orderkey, TO_TIMESTAMP(o_orderkey * 86400) AS as_time FROM orders WHERE o_orderkey < 200;
