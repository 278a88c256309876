"""What the tests share: the applications and databases (`apps`), people and records
(`factories`), signed-in test clients (`clients`), reading back what requests committed
(`queries`), the hand-built programme of the report tests (`programme`), import files
(`imports`), raw changes behind the application's back (`tamper`) and the browser journeys'
server and helpers (`browser`).

Test modules import from here; the conftest.py files only declare fixtures."""
