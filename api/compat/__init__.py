"""Drop-in routes for hosted media APIs (docs/compat/): each module is one API's routes, request
fields, answers and errors, a thin adapter onto the native submission service and job store."""
