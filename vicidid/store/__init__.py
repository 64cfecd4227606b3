"""The database: what it holds (tables, reflect, sizes, schema), the connection's plumbing
(db, wire, mysqldb, faults), and in statements/ the statements themselves."""
