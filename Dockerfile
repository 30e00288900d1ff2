# The production image: gunicorn for the web, the same image runs the Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic needs a key to import the settings; the real one comes from the environment at run time.
RUN DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput

RUN useradd --create-home huishou && mkdir -p /app/var && chown -R huishou /app/var
USER huishou
EXPOSE 8000
# Workers, timeouts and restarts are set in config/gunicorn.py (each overridable from the environment).
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]
