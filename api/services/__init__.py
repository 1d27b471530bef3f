"""What the routes do, apart from HTTP: submitting jobs, signing downloads, listing, watching, uploads.

Routes (api/routes/) parse the request and shape the response; they call these and never each other.
"""
