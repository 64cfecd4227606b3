"""The statements: what a request, a login, a listing or a command asks of the database,
built with SQLAlchemy Core over store/tables.py and sent through store/wire.py or a
connection. The connection's own plumbing (db, wire, mysqldb, faults) is in store/."""
