"""Who may change what tonewatch does: roles, the acting user, and the dashboard's user file.

- :mod:`pipeline.access.roles`: the roles (``viewer`` < ``responder`` < ``admin``), the acting
  user (:class:`~pipeline.access.roles.Actor`) and :func:`~pipeline.access.roles.require`;
- :mod:`pipeline.access.users`: the user file managed by ``tonewatch users`` (argon2id
  password hashes from argon2-cffi, never a plain password) and password checks.
"""
