"""Planning motion from text: ``parse`` reads a prompt into the grammar's ``Scene``
(``from backend.plan.parse import load_parser``). Imports nothing itself, so each module's
own dependencies stay its own."""
