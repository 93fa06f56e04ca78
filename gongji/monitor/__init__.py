"""Smart monitoring (智能监管): the national rule base's checks before and after settlement, anomaly scores, the
review queue, claw-backs and credit records."""
