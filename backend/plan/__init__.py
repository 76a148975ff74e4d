"""Planning motion from text: ``parse`` reads a prompt into the grammar's ``Scene``
(``from backend.plan.parse import load_parser``), ``parts`` finds where a prompt goes on to
a next part, ``words`` what its plain words settle, ``realize`` makes a scene's motion and
``planner`` puts them together. Imports nothing itself, so each module's
own dependencies stay its own."""
