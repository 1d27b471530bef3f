"""One router per resource, each tagged so `/docs` groups its operations. Routers never import each
other: what two of them share lives in api/services, api/models or api/deps."""
