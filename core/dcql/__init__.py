"""DCQL, the Digital Credentials Query Language (OpenID4VP 1.0 §6).

``model``: the query as typed messages named as in the spec; ``parse``: validation with
clear errors (§6.1–§6.3); ``match``: the pure matcher of §6.4, given a query and decoded
credentials, which credentials and which claim paths satisfy it.
"""
