from fraud_detection.cli import run

run()
