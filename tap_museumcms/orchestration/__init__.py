"""Orchestration of many sources: one inherited extractor per museum, each its own Meltano job.

``sources.py`` reads the sources from ``meltano.yml`` (pure), ``meltano_cli.py`` runs one
``meltano run`` as a child process, ``definitions.py`` makes them Dagster assets (install the
``orchestrate`` extra: ``pip install -e '.[orchestrate]'``)::

    dagster dev -m tap_museumcms.orchestration.definitions
"""
