"""The WSGI entry gunicorn loads (`wsgi:app`): the Flask app of predictor.py."""

import predictor as myapp

app = myapp.app
