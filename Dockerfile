FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY services services
COPY workers workers
COPY schemas schemas
COPY seeds seeds
RUN useradd --create-home ingest && mkdir -p var && chown ingest var
USER ingest
EXPOSE 8000 5555
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "services.app:serve()"]
