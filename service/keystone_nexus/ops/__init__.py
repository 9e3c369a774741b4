"""What operators see: metrics, health, CloudWatch metrics and dashboards, EMF, sd_notify, logs, top."""
