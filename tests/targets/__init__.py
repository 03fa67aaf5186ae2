"""Independent targets written for the tests, unlike the reference server in style and API."""
