"""One request, start to finish: parameters, the login flow, the functions, the outcomes and
the words of each dialect. Reads and writes only through vicidid.store.
"""
