@echo off
rem The nightly backup of a Windows village PC (flask backup), run by the scheduled task that
rem install-backup-task.cmd registers. Writes instance\backups\<village>-<UTC time>.tar.gz and its .sha256,
rem keeps the newest 14 (BACKUP_KEEP), and appends what it did to instance\backups\backup.log.
setlocal
set "XY_ROOT=%~dp0..\.."
cd /d "%XY_ROOT%"
set XIANGYUE_ENV=production
if not exist "%XY_ROOT%\instance\backups" mkdir "%XY_ROOT%\instance\backups"
"%XY_ROOT%\.venv\Scripts\flask.exe" --app wsgi backup >> "%XY_ROOT%\instance\backups\backup.log" 2>&1
"%XY_ROOT%\.venv\Scripts\flask.exe" --app wsgi statements purge --older-than 30 >> "%XY_ROOT%\instance\backups\backup.log" 2>&1
