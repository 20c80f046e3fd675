"""psycopg2-binary without a server: libpq (vendored) quoting, DSN parsing, adapters, type casters."""
import datetime
import decimal

import psycopg2
import psycopg2.extensions as ext
from psycopg2.extras import Json

print("libpq major", psycopg2.__libpq_version__ // 10000)
print("quoted", ext.adapt("O'Reilly \\ x").getquoted().decode())
print("bytea", ext.adapt(memoryview(b"\x00\x01\xff")).getquoted().decode())
print("date", ext.adapt(datetime.date(2024, 2, 29)).getquoted().decode())
print("decimal", ext.adapt(decimal.Decimal("12.340")).getquoted().decode())
print("array", ext.adapt([1, 2, None]).getquoted().decode())
print("json", Json({"a": [1, 2]}).getquoted().decode())
print("dsn", sorted(ext.parse_dsn("host=db port=5433 dbname=x user=u application_name=corpus").items()))
print("make_dsn", ext.make_dsn("dbname=x", user="u", sslmode="disable"))
print("ident", ext.quote_ident is not None)
try:
    psycopg2.connect("host=/nonexistent-socket-dir dbname=x connect_timeout=1")
except psycopg2.OperationalError as e:
    print("connect error", type(e).__name__)
