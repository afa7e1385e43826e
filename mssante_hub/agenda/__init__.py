"""The patient's agenda (docs/agenda.md): appointments received as iMIP, the patient's own items, prevention
campaigns, reminders and the private ICS feed."""
