-- SQL conformance queries over the published Northwind tables (see test_sql_conformance.py).
--
-- Relations: categories, customers, employees, order_details (order-details.csv), orders,
-- products, shippers, suppliers; columns as the CSV headers name them (camelCase, resolved
-- case-insensitively by both engines). orders, customers and suppliers lack the rows with
-- unquoted commas, so some order lines have no order: good material for outer and anti joins.
--
-- Each entry: `-- name: <id>`, `-- features: <tags>`, then one statement. Every query is valid
-- in Postgres and DuckDB with the same meaning. Rules kept throughout:
-- - no integer `/` (Postgres truncates, DuckDB does not): cast an operand to double precision
--   or numeric(p, s) first; never `numeric` without a precision (DuckDB reads it as (18, 3));
-- - round() only on numeric(p, s) (Postgres has no round(double precision, int));
-- - every top-level ORDER BY is total (ties broken by a key), and NULLS FIRST/LAST is spelled
--   out wherever a sorted column may be NULL with DESC;
-- - upper()/lower() only on ASCII text (the services' Postgres has the C ctype).

-- name: select_star_shippers
-- features: projection
SELECT * FROM shippers;

-- name: projection_columns_aliases
-- features: projection, alias
SELECT productID AS id, productName AS name, unitPrice AS price FROM products;

-- name: projection_expressions
-- features: projection, arithmetic
SELECT productID, unitsInStock + unitsOnOrder AS pipeline, unitsInStock - reorderLevel AS margin,
       unitPrice * unitsInStock AS stock_value
FROM products;

-- name: where_equals_text
-- features: where, comparison
SELECT customerID, companyName, city FROM customers WHERE country = 'Germany';

-- name: where_not_equals
-- features: where, comparison
SELECT productID, categoryID FROM products WHERE categoryID <> 1 AND categoryID != 2;

-- name: where_less_greater
-- features: where, comparison
SELECT productID, unitPrice FROM products WHERE unitPrice < 10 OR unitPrice > 50;

-- name: where_less_greater_equal
-- features: where, comparison
SELECT productID, unitsInStock FROM products WHERE unitsInStock >= 20 AND unitsInStock <= 40;

-- name: where_timestamp_comparison
-- features: where, comparison, date
SELECT orderID, orderDate FROM orders WHERE orderDate >= DATE '1998-01-01';

-- name: where_text_range
-- features: where, comparison
SELECT customerID FROM customers WHERE companyName > 'M' AND companyName < 'S';

-- name: where_boolean_logic
-- features: where, boolean
SELECT productID FROM products
WHERE NOT (discontinued = 1) AND (categoryID = 1 OR (categoryID = 2 AND unitPrice > 20));

-- name: where_between
-- features: where, between
SELECT productID, unitPrice FROM products WHERE unitPrice BETWEEN 15 AND 25;

-- name: where_not_between_dates
-- features: where, between, date
SELECT orderID FROM orders
WHERE orderDate NOT BETWEEN TIMESTAMP '1997-01-01 00:00:00' AND TIMESTAMP '1997-12-31 23:59:59';

-- name: where_in_list
-- features: where, in
SELECT customerID, country FROM customers WHERE country IN ('France', 'Spain', 'Italy');

-- name: where_not_in_numbers
-- features: where, in
SELECT productID FROM products WHERE categoryID NOT IN (1, 2, 3, 4);

-- name: in_list_three_valued_logic
-- features: in, is_null, boolean
SELECT employeeID, reportsTo IN (2, NULL) AS in_list, reportsTo NOT IN (2, NULL) AS not_in_list,
       reportsTo NOT IN (2, 5) AS not_in_known
FROM employees;

-- name: where_like_prefix
-- features: where, like
SELECT productName FROM products WHERE productName LIKE 'Ch%';

-- name: where_like_underscore_and_contains
-- features: where, like
SELECT productName FROM products WHERE productName LIKE '%an_' OR productName LIKE '%Tofu%';

-- name: where_not_like
-- features: where, like
SELECT customerID FROM customers WHERE contactTitle NOT LIKE 'Sales%';

-- name: where_like_escape
-- features: where, like
SELECT productName FROM products WHERE productName LIKE '%''s%' ESCAPE '!';

-- name: where_ilike
-- features: where, ilike
SELECT productName FROM products WHERE productName ILIKE '%LAGER%' OR productName ILIKE 'chef%';

-- name: where_not_ilike
-- features: where, ilike
SELECT companyName FROM shippers WHERE companyName NOT ILIKE '%express%';

-- name: where_is_null
-- features: where, is_null
SELECT orderID, customerID FROM orders WHERE shippedDate IS NULL;

-- name: where_is_not_null
-- features: where, is_null
SELECT supplierID, region FROM suppliers WHERE region IS NOT NULL;

-- name: where_is_distinct_from
-- features: where, is_null, comparison
SELECT customerID FROM customers WHERE region IS DISTINCT FROM 'BC';

-- name: case_searched
-- features: case
SELECT productID,
       CASE WHEN unitPrice < 10 THEN 'cheap' WHEN unitPrice < 40 THEN 'regular'
            ELSE 'premium' END AS band
FROM products;

-- name: case_simple_without_else
-- features: case, is_null
SELECT orderID, CASE shipVia WHEN 1 THEN 'Speedy' WHEN 2 THEN 'United' END AS shipper
FROM orders;

-- name: coalesce_nullif
-- features: coalesce, nullif
SELECT customerID, COALESCE(region, fax, 'none') AS first_known, NULLIF(country, 'USA') AS abroad
FROM customers;

-- name: nullif_guards_division
-- features: nullif, arithmetic, cast
SELECT productID,
       CAST(unitsOnOrder AS double precision) / NULLIF(unitsInStock, 0) AS cover
FROM products;

-- name: arithmetic_mixed
-- features: arithmetic
SELECT orderID, productID, unitPrice * quantity * (1 - discount) AS net,
       quantity % 7 AS rest, -quantity AS negated
FROM order_details WHERE orderID < 10300;

-- name: cast_numeric_round
-- features: cast, arithmetic, math
SELECT productID, ROUND(CAST(unitPrice * 1.19 AS numeric(12, 4)), 2) AS gross,
       CAST(unitPrice AS numeric(10, 2)) AS exact_price
FROM products;

-- name: cast_text_and_back
-- features: cast, string
SELECT productID, CAST(productID AS varchar) || '-' || CAST(categoryID AS text) AS code,
       CAST('0' || CAST(unitsInStock AS varchar) AS integer) AS stock
FROM products;

-- name: cast_integer_division_explicit
-- features: cast, arithmetic
SELECT orderID, quantity, CAST(quantity AS double precision) / 4 AS quarter_exact,
       CAST(FLOOR(CAST(quantity AS double precision) / 4) AS integer) AS quarter_floor
FROM order_details WHERE orderID BETWEEN 10400 AND 10420;

-- name: postgres_style_casts
-- features: cast, date
SELECT orderID, orderDate::date AS day, freight::numeric(10, 2) AS freight
FROM orders WHERE shipVia = 3;

-- name: math_functions
-- features: math
SELECT productID, ABS(unitsInStock - 50) AS distance, CEIL(unitPrice) AS up, FLOOR(unitPrice) AS down,
       SQRT(unitsInStock) AS root, POWER(CAST(reorderLevel AS double precision), 2) AS sq,
       MOD(unitsInStock, 10) AS last_digit, SIGN(unitsInStock - reorderLevel) AS over_reorder
FROM products;

-- name: greatest_least
-- features: math, comparison
SELECT productID, GREATEST(unitsInStock, unitsOnOrder, reorderLevel) AS most,
       LEAST(unitsInStock, unitsOnOrder, reorderLevel) AS least
FROM products;

-- name: string_upper_lower_length
-- features: string
SELECT customerID, LOWER(customerID) AS lower_id, UPPER(country) AS country_upper,
       LENGTH(companyName) AS name_length, CHAR_LENGTH(contactName) AS contact_length
FROM customers;

-- name: string_substring_forms
-- features: string
SELECT productID, SUBSTRING(productName FROM 1 FOR 4) AS head, SUBSTRING(productName, 3) AS tail,
       SUBSTR(productName, 2, 3) AS middle, LEFT(productName, 2) AS l2, RIGHT(productName, 3) AS r3
FROM products;

-- name: string_concat_operator_and_function
-- features: string, coalesce
SELECT customerID, contactName || ' (' || contactTitle || ')' AS contact,
       region || '/' || country AS null_if_no_region,
       CONCAT(city, ', ', region, ', ', country) AS skips_nulls,
       CONCAT_WS(' | ', city, region, country) AS joined
FROM customers;

-- name: string_trim_family
-- features: string
SELECT shipperID, TRIM('  ' || companyName || '  ') AS trimmed,
       LTRIM('xx' || companyName, 'x') AS ltrimmed, RTRIM(phone, '0123456789') AS rtrimmed,
       TRIM(BOTH '(' FROM phone) AS both_trimmed
FROM shippers;

-- name: string_replace_position
-- features: string
SELECT productID, REPLACE(quantityPerUnit, ' x ', ' times ') AS replaced,
       POSITION('x' IN quantityPerUnit) AS x_at, STRPOS(productName, 'e') AS e_at
FROM products;

-- name: string_pad_repeat_reverse
-- features: string
SELECT shipperID, LPAD(CAST(shipperID AS varchar), 4, '0') AS padded,
       RPAD(companyName, 20, '.') AS dotted, REPEAT('*', CAST(shipperID AS integer)) AS stars,
       REVERSE(companyName) AS backwards
FROM shippers;

-- name: string_split_part_starts_with
-- features: string
SELECT employeeID, SPLIT_PART(title, ' ', 1) AS first_word, STARTS_WITH(title, 'Sales') AS sales
FROM employees;

-- name: string_functions_in_where
-- features: string, where
SELECT customerID FROM customers
WHERE LENGTH(city) > 8 AND POSITION(' ' IN companyName) > 0 AND LOWER(customerID) LIKE 'b%';

-- name: date_extract_parts
-- features: date
SELECT orderID, EXTRACT(YEAR FROM orderDate) AS y, EXTRACT(MONTH FROM orderDate) AS m,
       EXTRACT(DAY FROM orderDate) AS d, EXTRACT(QUARTER FROM orderDate) AS q,
       EXTRACT(DOW FROM orderDate) AS dow, EXTRACT(DOY FROM orderDate) AS doy
FROM orders;

-- name: date_part_function
-- features: date
SELECT employeeID, DATE_PART('year', hireDate) - DATE_PART('year', birthDate) AS age_at_hire,
       DATE_PART('isodow', hireDate) AS hired_on
FROM employees;

-- name: date_trunc_month_group
-- features: date, group_by, aggregate
SELECT DATE_TRUNC('month', orderDate) AS month, COUNT(*) AS orders
FROM orders GROUP BY DATE_TRUNC('month', orderDate);

-- name: date_trunc_year_and_week
-- features: date
SELECT orderID, DATE_TRUNC('year', orderDate) AS year_start, DATE_TRUNC('week', orderDate) AS week_start
FROM orders WHERE employeeID = 4;

-- name: date_interval_arithmetic
-- features: date, arithmetic
SELECT orderID, orderDate + INTERVAL '30 days' AS due, orderDate - INTERVAL '1 month' AS month_before,
       requiredDate + INTERVAL '2 hours' AS late_cutoff
FROM orders WHERE customerID = 'ALFKI';

-- name: date_difference_days
-- features: date, arithmetic, cast
SELECT orderID, CAST(shippedDate AS date) - CAST(orderDate AS date) AS days_to_ship
FROM orders WHERE shippedDate IS NOT NULL;

-- name: date_late_shipments
-- features: date, where, comparison
SELECT orderID, customerID FROM orders WHERE shippedDate > requiredDate;

-- name: date_interval_in_where
-- features: date, where
SELECT orderID FROM orders WHERE shippedDate > orderDate + INTERVAL '20 days';

-- name: date_literals_and_make_date
-- features: date
SELECT employeeID, MAKE_DATE(CAST(EXTRACT(YEAR FROM hireDate) AS integer), 1, 1) AS hire_year,
       CAST(hireDate AS date) + 90 AS probation_end
FROM employees;

-- name: aggregate_all_basic
-- features: aggregate
SELECT COUNT(*) AS n, COUNT(shippedDate) AS shipped, SUM(freight) AS freight, AVG(freight) AS avg_freight,
       MIN(orderDate) AS first, MAX(orderDate) AS last, MIN(shipCountry) AS first_country
FROM orders;

-- name: aggregate_count_distinct
-- features: aggregate, count_distinct
SELECT COUNT(DISTINCT customerID) AS customers, COUNT(DISTINCT shipCountry) AS countries,
       COUNT(DISTINCT shipRegion) AS regions
FROM orders;

-- name: aggregate_integer_sum_avg
-- features: aggregate
SELECT SUM(quantity) AS items, AVG(quantity) AS avg_items, SUM(DISTINCT quantity) AS distinct_sizes
FROM order_details;

-- name: aggregate_filter
-- features: aggregate, filter
SELECT COUNT(*) FILTER (WHERE discount > 0) AS discounted,
       SUM(quantity) FILTER (WHERE discount = 0) AS full_price_items,
       AVG(unitPrice) FILTER (WHERE quantity >= 50) AS bulk_price
FROM order_details;

-- name: aggregate_on_empty_input
-- features: aggregate, where
SELECT COUNT(*) AS n, SUM(freight) AS total, MAX(orderID) AS last FROM orders WHERE freight < 0;

-- name: aggregate_bool_and_stats
-- features: aggregate
SELECT BOOL_AND(unitPrice > 0) AS all_priced, BOOL_OR(discontinued = 1) AS any_discontinued,
       STDDEV_SAMP(unitPrice) AS sd, VAR_POP(unitPrice) AS var
FROM products;

-- name: aggregate_string_agg_ordered
-- features: aggregate, string, group_by
SELECT categoryID, STRING_AGG(productName, ', ' ORDER BY productName) AS products
FROM products GROUP BY categoryID;

-- name: group_by_one_column
-- features: group_by, aggregate
SELECT shipCountry, COUNT(*) AS orders, SUM(freight) AS freight FROM orders GROUP BY shipCountry;

-- name: group_by_two_columns_alias
-- features: group_by, aggregate, date
SELECT employeeID, EXTRACT(YEAR FROM orderDate) AS year, COUNT(*) AS orders
FROM orders GROUP BY employeeID, EXTRACT(YEAR FROM orderDate);

-- name: group_by_expression_nulls
-- features: group_by, aggregate, is_null
SELECT shipRegion, COUNT(*) AS orders FROM orders GROUP BY shipRegion;

-- name: having_count
-- features: group_by, having, aggregate
SELECT customerID, COUNT(*) AS orders FROM orders GROUP BY customerID HAVING COUNT(*) >= 10;

-- name: having_sum_and_avg
-- features: group_by, having, aggregate
SELECT productID, SUM(quantity) AS sold FROM order_details
GROUP BY productID HAVING SUM(quantity) > 1000 AND AVG(discount) < 0.1;

-- name: having_without_select_aggregate
-- features: group_by, having
SELECT categoryID FROM products GROUP BY categoryID HAVING MAX(unitPrice) > 50;

-- name: order_by_multiple_keys
-- features: order_by
SELECT productID, categoryID, unitPrice FROM products ORDER BY categoryID, unitPrice DESC, productID;

-- name: order_by_nulls_first
-- features: order_by, nulls_order
SELECT customerID, region FROM customers ORDER BY region NULLS FIRST, customerID;

-- name: order_by_desc_nulls_last
-- features: order_by, nulls_order
SELECT orderID, shippedDate FROM orders ORDER BY shippedDate DESC NULLS LAST, orderID;

-- name: order_by_asc_nulls_default_last
-- features: order_by, nulls_order
SELECT supplierID, fax FROM suppliers ORDER BY fax, supplierID;

-- name: order_by_ordinal_and_alias
-- features: order_by, alias
SELECT companyName AS name, country FROM suppliers ORDER BY 2, name;

-- name: order_by_expression
-- features: order_by, arithmetic
SELECT productID, unitsInStock, reorderLevel FROM products
ORDER BY unitsInStock - reorderLevel, productID;

-- name: limit_top_n
-- features: order_by, limit
SELECT productName, unitPrice FROM products ORDER BY unitPrice DESC, productID LIMIT 5;

-- name: limit_offset
-- features: order_by, limit, offset
SELECT orderID, freight FROM orders ORDER BY freight DESC, orderID LIMIT 10 OFFSET 20;

-- name: fetch_first_rows_only
-- features: order_by, fetch
SELECT customerID, companyName FROM customers ORDER BY customerID FETCH FIRST 7 ROWS ONLY;

-- name: offset_fetch_next
-- features: order_by, offset, fetch
SELECT productID FROM products ORDER BY productID OFFSET 70 ROWS FETCH NEXT 5 ROWS ONLY;

-- name: distinct_single
-- features: distinct
SELECT DISTINCT country FROM suppliers;

-- name: distinct_multiple_with_nulls
-- features: distinct, is_null
SELECT DISTINCT shipCountry, shipRegion FROM orders;

-- name: distinct_on_latest_order
-- features: distinct, distinct_on, order_by
SELECT DISTINCT ON (customerID) customerID, orderID, orderDate
FROM orders ORDER BY customerID, orderDate DESC, orderID DESC;

-- name: inner_join
-- features: inner_join
SELECT o.orderID, c.companyName, o.orderDate
FROM orders o JOIN customers c ON c.customerID = o.customerID;

-- name: inner_join_three_tables
-- features: inner_join, aggregate, group_by
SELECT c.categoryName, COUNT(*) AS lines, SUM(d.quantity) AS items
FROM order_details d
JOIN products p ON p.productID = d.productID
JOIN categories c ON c.categoryID = p.categoryID
GROUP BY c.categoryName;

-- name: join_using
-- features: inner_join
SELECT orderID, productID, p.productName
FROM order_details JOIN products p USING (productID) WHERE orderID < 10260;

-- name: left_join_unmatched
-- features: left_join, is_null
SELECT d.orderID, d.productID FROM order_details d
LEFT JOIN orders o ON o.orderID = d.orderID WHERE o.orderID IS NULL;

-- name: left_join_counts_zero
-- features: left_join, aggregate, group_by
SELECT c.customerID, COUNT(o.orderID) AS orders
FROM customers c LEFT JOIN orders o ON o.customerID = c.customerID GROUP BY c.customerID;

-- name: left_join_with_condition_in_on
-- features: left_join
SELECT p.productID, d.orderID FROM products p
LEFT JOIN order_details d ON d.productID = p.productID AND d.quantity > 100;

-- name: right_join
-- features: right_join
SELECT o.orderID, s.companyName FROM orders o RIGHT JOIN shippers s ON s.shipperID = o.shipVia
WHERE o.orderID IS NULL OR o.orderID < 10260;

-- name: full_join
-- features: full_join, is_null
SELECT c.customerID AS customer, o.customerID AS ordering_customer, o.orderID
FROM (SELECT customerID FROM customers WHERE country IN ('Germany', 'France')) c
FULL JOIN (SELECT orderID, customerID FROM orders WHERE employeeID = 1) o ON o.customerID = c.customerID;

-- name: self_join_manager
-- features: self_join, left_join
SELECT e.employeeID, e.lastName, m.lastName AS manager
FROM employees e LEFT JOIN employees m ON m.employeeID = e.reportsTo;

-- name: self_join_same_city
-- features: self_join
SELECT a.customerID, b.customerID AS neighbour
FROM customers a JOIN customers b ON a.city = b.city AND a.customerID < b.customerID;

-- name: cross_join
-- features: cross_join
SELECT s.shipperID, c.categoryID FROM shippers s CROSS JOIN categories c;

-- name: join_non_equi
-- features: inner_join, comparison
SELECT p.productID, q.productID AS pricier FROM products p
JOIN products q ON q.categoryID = p.categoryID AND q.unitPrice > p.unitPrice * 3;

-- name: subquery_scalar_in_where
-- features: subquery_scalar
SELECT productID, unitPrice FROM products WHERE unitPrice > (SELECT AVG(unitPrice) FROM products);

-- name: subquery_scalar_in_select
-- features: subquery_scalar, correlated
SELECT c.categoryID,
       (SELECT COUNT(*) FROM products p WHERE p.categoryID = c.categoryID) AS products
FROM categories c;

-- name: subquery_in
-- features: subquery_in
SELECT customerID, companyName FROM customers
WHERE customerID IN (SELECT customerID FROM orders WHERE shipCountry IN ('Mexico', 'Venezuela'));

-- name: subquery_not_in
-- features: subquery_in
SELECT productID FROM products WHERE productID NOT IN (SELECT productID FROM order_details WHERE quantity > 60);

-- name: subquery_exists
-- features: exists, correlated
SELECT s.supplierID FROM suppliers s
WHERE EXISTS (SELECT 1 FROM products p WHERE p.supplierID = s.supplierID AND p.discontinued = 1);

-- name: subquery_not_exists
-- features: exists, correlated
SELECT c.customerID FROM customers c
WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customerID = c.customerID AND o.orderDate >= DATE '1998-01-01');

-- name: subquery_correlated_comparison
-- features: correlated, subquery_scalar
SELECT p.productID, p.categoryID, p.unitPrice FROM products p
WHERE p.unitPrice > (SELECT AVG(q.unitPrice) FROM products q WHERE q.categoryID = p.categoryID);

-- name: subquery_any_all
-- features: subquery_in, comparison
SELECT productID FROM products
WHERE unitPrice > ALL (SELECT unitPrice FROM products WHERE categoryID = 3)
   OR unitPrice = ANY (SELECT unitPrice FROM products WHERE categoryID = 8 AND unitsInStock = 0);

-- name: derived_table
-- features: derived_table, aggregate
SELECT t.customerID, t.total FROM (
  SELECT o.customerID, SUM(d.unitPrice * d.quantity) AS total
  FROM orders o JOIN order_details d ON d.orderID = o.orderID GROUP BY o.customerID
) AS t WHERE t.total > 10000;

-- name: derived_table_with_column_aliases
-- features: derived_table, alias
SELECT c, n FROM (SELECT categoryID, COUNT(*) FROM products GROUP BY categoryID) AS t (c, n) WHERE n > 10;

-- name: cte_single
-- features: cte
WITH expensive AS (SELECT productID, unitPrice FROM products WHERE unitPrice > 40)
SELECT COUNT(*) AS n, MIN(unitPrice) AS cheapest FROM expensive;

-- name: cte_several_chained
-- features: cte, cte_chained, inner_join
WITH line AS (
  SELECT orderID, unitPrice * quantity * (1 - discount) AS net FROM order_details
), per_order AS (
  SELECT o.orderID, o.employeeID, SUM(l.net) AS net FROM orders o JOIN line l ON l.orderID = o.orderID
  GROUP BY o.orderID, o.employeeID
), per_employee AS (
  SELECT employeeID, COUNT(*) AS orders, SUM(net) AS net FROM per_order GROUP BY employeeID
)
SELECT e.lastName, pe.orders, pe.net FROM per_employee pe JOIN employees e ON e.employeeID = pe.employeeID;

-- name: cte_used_twice
-- features: cte, subquery_scalar
WITH totals AS (SELECT shipCountry, SUM(freight) AS freight FROM orders GROUP BY shipCountry)
SELECT shipCountry, freight FROM totals WHERE freight > (SELECT AVG(freight) FROM totals);

-- name: cte_recursive_hierarchy
-- features: cte, recursive_cte
WITH RECURSIVE chain (employeeID, lastName, depth) AS (
  SELECT employeeID, lastName, 0 FROM employees WHERE reportsTo IS NULL
  UNION ALL
  SELECT e.employeeID, e.lastName, c.depth + 1 FROM employees e JOIN chain c ON e.reportsTo = c.employeeID
)
SELECT employeeID, lastName, depth FROM chain;

-- name: window_row_number_partition
-- features: window, row_number
SELECT productID, categoryID,
       ROW_NUMBER() OVER (PARTITION BY categoryID ORDER BY unitPrice DESC, productID) AS rank_in_category
FROM products;

-- name: window_rank_dense_rank
-- features: window, rank
SELECT productID, unitPrice, RANK() OVER (ORDER BY unitPrice DESC) AS rnk,
       DENSE_RANK() OVER (ORDER BY unitPrice DESC) AS dense
FROM products;

-- name: window_top_per_group
-- features: window, row_number, derived_table
SELECT categoryID, productName, unitPrice FROM (
  SELECT categoryID, productName, unitPrice,
         ROW_NUMBER() OVER (PARTITION BY categoryID ORDER BY unitPrice DESC, productID) AS rn
  FROM products
) ranked WHERE rn <= 2;

-- name: window_lag_lead
-- features: window, lag_lead
SELECT orderID, customerID, orderDate,
       LAG(orderDate) OVER (PARTITION BY customerID ORDER BY orderDate, orderID) AS previous,
       LEAD(orderID, 1, -1) OVER (PARTITION BY customerID ORDER BY orderDate, orderID) AS next_order
FROM orders;

-- name: window_running_sum_rows_frame
-- features: window, window_frame
SELECT orderID, freight,
       SUM(freight) OVER (ORDER BY orderID ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
       AVG(freight) OVER (ORDER BY orderID ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) AS centered
FROM orders;

-- name: window_default_range_frame_with_ties
-- features: window, window_frame
SELECT orderID, orderDate, COUNT(*) OVER (ORDER BY orderDate) AS orders_so_far
FROM orders;

-- name: window_partition_aggregates
-- features: window
SELECT productID, categoryID, unitPrice,
       unitPrice - AVG(unitPrice) OVER (PARTITION BY categoryID) AS above_avg,
       MAX(unitPrice) OVER (PARTITION BY categoryID) AS top, COUNT(*) OVER () AS all_products
FROM products;

-- name: window_ntile_and_distribution
-- features: window, ntile
SELECT productID, NTILE(4) OVER (ORDER BY unitPrice, productID) AS quartile,
       PERCENT_RANK() OVER (ORDER BY unitPrice) AS pr, CUME_DIST() OVER (ORDER BY unitPrice) AS cd
FROM products;

-- name: window_first_last_value
-- features: window, window_frame
SELECT productID, categoryID,
       FIRST_VALUE(productName) OVER w AS cheapest,
       LAST_VALUE(productName) OVER (PARTITION BY categoryID ORDER BY unitPrice, productID
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS dearest
FROM products
WINDOW w AS (PARTITION BY categoryID ORDER BY unitPrice, productID);

-- name: window_over_aggregate
-- features: window, group_by, aggregate
SELECT shipCountry, COUNT(*) AS orders,
       RANK() OVER (ORDER BY COUNT(*) DESC) AS by_orders,
       CAST(SUM(COUNT(*)) OVER () AS bigint) AS total
FROM orders GROUP BY shipCountry;

-- name: union_distinct
-- features: set_union
SELECT city, country FROM customers UNION SELECT city, country FROM suppliers;

-- name: union_all_counts
-- features: union_all, derived_table, aggregate
SELECT kind, COUNT(*) FROM (
  SELECT 'customer' AS kind, country FROM customers
  UNION ALL SELECT 'supplier', country FROM suppliers
  UNION ALL SELECT 'employee', country FROM employees
) everyone GROUP BY kind;

-- name: intersect
-- features: intersect
SELECT country FROM customers INTERSECT SELECT country FROM suppliers;

-- name: except
-- features: except
SELECT country FROM customers EXCEPT SELECT country FROM suppliers;

-- name: union_with_order_by_limit
-- features: set_union, order_by, limit
SELECT companyName AS name FROM suppliers UNION SELECT companyName FROM shippers
ORDER BY name LIMIT 10;

-- name: grouping_sets_rollup
-- features: group_by, grouping_sets, aggregate
SELECT categoryID, discontinued, COUNT(*) AS n, GROUPING(categoryID, discontinued) AS level
FROM products GROUP BY ROLLUP (categoryID, discontinued);

-- name: lateral_top_lines
-- features: lateral, correlated, order_by, limit
SELECT o.orderID, top.productID, top.quantity FROM orders o
CROSS JOIN LATERAL (
  SELECT d.productID, d.quantity FROM order_details d WHERE d.orderID = o.orderID
  ORDER BY d.quantity DESC, d.productID LIMIT 1
) top
WHERE o.customerID = 'QUICK';

-- name: values_list_join
-- features: values, inner_join
SELECT v.code, v.label, COUNT(o.orderID) AS orders
FROM (VALUES (1, 'Speedy'), (2, 'United'), (3, 'Federal')) AS v (code, label)
JOIN orders o ON o.shipVia = v.code GROUP BY v.code, v.label;

-- name: interval_between_timestamps
-- features: date, arithmetic, is_null
SELECT orderID, shippedDate - orderDate AS lead_time, requiredDate - orderDate AS allowed FROM orders;

-- name: interval_aggregates_and_extract
-- features: date, aggregate, group_by
SELECT shipVia, MAX(shippedDate - orderDate) AS max_lead, MIN(requiredDate - shippedDate) AS min_slack,
       MIN(EXTRACT(DAY FROM shippedDate - orderDate)) AS min_days
FROM orders GROUP BY shipVia;

-- name: interval_multiplication_and_month_end
-- features: date, arithmetic
SELECT orderID, orderDate + 3 * INTERVAL '1 day' AS three_days, orderDate + INTERVAL '1 month' AS next_month,
       orderDate - INTERVAL '1 year 2 months' AS earlier
FROM orders WHERE EXTRACT(DAY FROM orderDate) >= 28;

-- name: date_epoch_and_text
-- features: date, cast
SELECT orderID, EXTRACT(EPOCH FROM orderDate) AS epoch, CAST(orderDate AS varchar) AS as_text,
       CAST(CAST(orderDate AS date) AS varchar) AS day_text, EXTRACT(ISOYEAR FROM orderDate) AS iso_year
FROM orders;

-- name: cast_double_to_integer_halves
-- features: cast
SELECT productID, unitPrice, CAST(unitPrice AS integer) AS whole, CAST(unitPrice * 100 AS bigint) AS cents
FROM products;

-- name: select_without_from
-- features: projection, arithmetic, string, cast
SELECT 1 + 2 * 3 AS seven, 'North' || 'wind' AS name, CAST('42' AS integer) AS answer,
       CAST(' 12 ' AS integer) AS padded, DATE '1996-07-04' + 30 AS later, 7 % 3 AS rest;

-- name: values_as_relation
-- features: values, order_by
SELECT x, y FROM (VALUES (2, 'b'), (1, 'a'), (3, NULL)) AS t (x, y) ORDER BY x;

-- name: boolean_tests_is_true_unknown
-- features: boolean, is_null
SELECT customerID, (region = 'WA') IS TRUE AS wa, (region = 'WA') IS NOT FALSE AS maybe_wa,
       (region = 'WA') IS UNKNOWN AS unknown
FROM customers;

-- name: greatest_least_skip_nulls
-- features: comparison, is_null
SELECT customerID, GREATEST(region, 'M') AS high, LEAST(region, fax, 'M') AS low FROM customers;

-- name: row_value_comparison
-- features: comparison, where
SELECT orderID, productID FROM order_details WHERE (orderID, productID) < (10260, 41) AND orderID > 10250;

-- name: any_array_literal
-- features: in, comparison
SELECT productID FROM products WHERE categoryID = ANY (ARRAY[1, 3]) AND unitsInStock <> ALL (ARRAY[0, 15]);

-- name: string_misc_functions
-- features: string
SELECT customerID, MD5(companyName) AS hash, TRANSLATE(phone, '()-', '[]_') AS phone_translated,
       ASCII(customerID) AS first_code, CHR(ASCII(customerID) + 1) AS next_letter,
       LEFT(companyName, -3) AS all_but_three, SPLIT_PART(companyName, ' ', 5) AS fifth_word
FROM customers;

-- name: string_accented_text
-- features: string, order_by
SELECT city, LENGTH(city) AS chars, REVERSE(city) AS backwards, SUBSTRING(city, 2, 2) AS inner2,
       POSITION('ü' IN city) AS u_umlaut_at
FROM customers ORDER BY city, customerID;

-- name: string_accented_like_and_range
-- features: string, like, aggregate
SELECT MIN(city) AS first, MAX(city) AS last, COUNT(*) FILTER (WHERE city LIKE '%ü%' OR city LIKE '_rhus') AS umlauts,
       COUNT(*) FILTER (WHERE city > 'Z') AS beyond_z
FROM customers;

-- name: regex_match_and_replace
-- features: string, where
SELECT productID, REGEXP_REPLACE(productName, '[aeiou]', '', 'g') AS no_vowels,
       REGEXP_REPLACE(productName, '[aeiou]', '*') AS first_vowel_starred
FROM products WHERE productName ~ '^[A-G]' AND productName !~ 'e$';

-- name: ordered_set_aggregates
-- features: aggregate, group_by
SELECT categoryID, PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY unitPrice) AS median,
       PERCENTILE_DISC(0.25) WITHIN GROUP (ORDER BY unitPrice) AS lower_quartile,
       MODE() WITHIN GROUP (ORDER BY supplierID) AS usual_supplier
FROM products GROUP BY categoryID;

-- name: array_agg_ordered
-- features: aggregate, group_by
SELECT categoryID, ARRAY_AGG(productID ORDER BY productID) AS ids FROM products GROUP BY categoryID;

-- name: window_range_offset_frame
-- features: window, window_frame
SELECT productID, unitPrice,
       COUNT(*) OVER (ORDER BY unitPrice RANGE BETWEEN 5 PRECEDING AND 5 FOLLOWING) AS similar_priced
FROM products;

-- name: window_groups_frame_and_exclude
-- features: window, window_frame
SELECT productID,
       SUM(unitsInStock) OVER (ORDER BY categoryID GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) AS two_categories,
       SUM(unitsInStock) OVER (PARTITION BY categoryID ORDER BY productID
                               ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE CURRENT ROW) AS others
FROM products;

-- name: window_lag_with_default_ntile_many
-- features: window, lag_lead, ntile
SELECT orderID, LAG(freight, 1, 0) OVER (ORDER BY orderID) AS previous_freight,
       NTILE(100) OVER (ORDER BY orderID) AS percentile
FROM orders;

-- name: window_desc_explicit_nulls
-- features: window, nulls_order, row_number
SELECT orderID, ROW_NUMBER() OVER (ORDER BY shippedDate DESC NULLS LAST, orderID) AS by_recent_shipping,
       RANK() OVER (ORDER BY shipRegion NULLS FIRST) AS region_rank
FROM orders;

-- name: having_correlated_subquery
-- features: having, correlated, group_by
SELECT p.categoryID, COUNT(*) AS products FROM products p GROUP BY p.categoryID
HAVING COUNT(*) > (SELECT COUNT(*) FROM products q WHERE q.categoryID = p.categoryID AND q.discontinued = 1) * 4;

-- name: set_operation_precedence
-- features: set_union, intersect
SELECT country FROM customers UNION SELECT country FROM suppliers INTERSECT SELECT country FROM employees;

-- name: is_not_distinct_from
-- features: where, is_null, comparison
SELECT customerID, region FROM customers
WHERE region IS NOT DISTINCT FROM NULL OR region IS NOT DISTINCT FROM 'WA';

-- name: limit_all_and_offset_alone
-- features: order_by, limit, offset
SELECT productID FROM products ORDER BY productID LIMIT ALL OFFSET 70;

-- name: extract_century_decade_millennium
-- features: date
SELECT orderID, EXTRACT(CENTURY FROM orderDate) AS century, EXTRACT(DECADE FROM orderDate) AS decade,
       EXTRACT(MILLENNIUM FROM orderDate) AS millennium, EXTRACT(HOUR FROM orderDate) AS hour,
       EXTRACT(MINUTE FROM requiredDate + INTERVAL '90 minutes') AS minute
FROM orders;

-- name: left_join_lateral_on_true
-- features: lateral, left_join, correlated, aggregate
SELECT c.categoryID, x.n, x.top FROM categories c
LEFT JOIN LATERAL (
  SELECT COUNT(*) AS n, MAX(p.unitPrice) AS top FROM products p
  WHERE p.categoryID = c.categoryID AND p.unitPrice > 50
) x ON true;

-- name: cte_materialized
-- features: cte, aggregate
WITH pricey AS MATERIALIZED (SELECT * FROM products WHERE unitPrice > 30)
SELECT categoryID, COUNT(*) AS n FROM pricey GROUP BY categoryID;

-- name: table_statement
-- features: projection
TABLE shippers;

-- name: statistics_aggregates
-- features: aggregate, group_by
SELECT categoryID, VARIANCE(unitPrice) AS var, STDDEV(unitPrice) AS sd,
       CORR(unitPrice, unitsInStock) AS correlation, COVAR_POP(unitPrice, unitsInStock) AS covariance,
       REGR_SLOPE(unitsInStock, unitPrice) AS slope
FROM products GROUP BY categoryID;

-- name: arrays_from_strings_and_aggregates
-- features: string, aggregate, group_by
SELECT categoryID, ARRAY_LENGTH(ARRAY_AGG(productID), 1) AS n,
       ARRAY_AGG(DISTINCT supplierID ORDER BY supplierID) AS suppliers,
       STRING_AGG(DISTINCT SPLIT_PART(productName, ' ', -1), '/' ORDER BY SPLIT_PART(productName, ' ', -1)) AS last_words
FROM products GROUP BY categoryID;

-- name: string_to_array
-- features: string
SELECT productID, STRING_TO_ARRAY(quantityPerUnit, ' ') AS words FROM products;

-- name: regex_case_insensitive
-- features: string, where
SELECT productName FROM products WHERE productName ~* 'chef|LAGER' OR productName !~* '[aeiou]';

-- name: count_distinct_row
-- features: aggregate, count_distinct
SELECT COUNT(DISTINCT (categoryID, supplierID)) AS pairs, COUNT(DISTINCT categoryID) AS categories FROM products;

-- name: interval_literal_forms
-- features: date, cast
SELECT orderID, orderDate + INTERVAL '1' MONTH AS a, orderDate + INTERVAL '2 weeks' AS b,
       orderDate + '1 day'::interval AS c, orderDate - INTERVAL '1 day 12 hours' AS d
FROM orders;

-- name: timestamp_compared_with_text_literal
-- features: where, date, comparison
SELECT orderID FROM orders WHERE orderDate < '1996-08-01' OR requiredDate >= '1998-06-01 00:00:00';

-- name: group_by_name_shared_with_alias
-- features: group_by, alias
SELECT categoryID * 10 AS categoryID, COUNT(*) AS n FROM products GROUP BY categoryID;

-- name: order_by_alias_shadowing_column
-- features: order_by, alias
SELECT productID, -unitPrice AS unitPrice FROM products ORDER BY unitPrice, productID;

-- name: order_by_column_not_selected
-- features: order_by
SELECT productName FROM products ORDER BY unitPrice DESC, productID;

-- name: row_in_subquery
-- features: subquery_in, comparison
SELECT orderID, productID FROM order_details
WHERE (orderID, productID) IN (SELECT orderID, productID FROM order_details WHERE quantity > 100);

-- name: scalar_subquery_without_rows
-- features: subquery_scalar, is_null, exists
SELECT (SELECT productID FROM products WHERE productID < 0) AS nothing,
       EXISTS (SELECT 1 FROM products LIMIT 0) AS none_exist,
       (SELECT MAX(productID) FROM products) AS last;

-- name: literals_and_operators
-- features: projection, arithmetic, string
SELECT 'it''s' || ' ok' AS quoted, -7 % 3 AS neg_mod, MOD(-7, 3) AS neg_mod_fn, 7 % -3 AS mod_neg,
       9223372036854775807 - 1 AS big, 0.1 + 0.2 = 0.3 AS exact_decimal, COALESCE(NULL, 1, 2.5) AS widened,
       NULLIF(1, 1.0) AS same_value, CONCAT('a', NULL, 1, 2.5) AS concatenated;

-- name: postgres_functions_the_engine_rewrites
-- features: string, between
SELECT customerID, INITCAP(contactTitle) AS title, RPAD(customerID, 8) AS padded
FROM customers WHERE LENGTH(city) BETWEEN SYMMETRIC 9 AND 6;

-- name: intervals_with_months
-- features: date, arithmetic
SELECT employeeID, AGE(hireDate, birthDate) AS age_at_hire, INTERVAL '1 year 2 months 3 days' AS literal,
       AGE(TIMESTAMP '1998-05-06 00:00:00', hireDate) AS tenure
FROM employees;
