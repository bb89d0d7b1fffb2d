-- A Piano reader whose events said nothing of them (no email, no name) was kept as a stub, and stubs are not
-- listed under /customers: such readers never appeared there. Piano's stubs are only ever those readers (a Piano
-- event never references a customer it is not about), so they become customers that claim no version yet
-- (source_ts stays NULL: any event still writes over them, and the first to say something announces them).
UPDATE customers SET stub = false WHERE provider = 'piano' AND stub;
