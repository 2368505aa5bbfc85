"""Great Expectations for the tasks: validation of window profiles (:mod:`tasks.gx.validate`) and the
Data Docs under ``<home>/gx`` (:mod:`tasks.gx.docs`). The only package that imports
``great_expectations``, and only inside functions."""
