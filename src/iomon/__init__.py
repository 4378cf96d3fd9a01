"""iomon: analysis of intraoperative TcMEP recordings.

Read a recording with :func:`iomon.io.read`, analyse it with :func:`iomon.pipeline.analyze`,
write the report and tables with :func:`iomon.outputs.write_outputs`.
"""

__version__ = "0.1.0"
