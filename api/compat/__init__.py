"""Drop-in routes for hosted media APIs (one module per API), as thin adapters onto the native job API."""
