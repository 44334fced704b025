@echo off
rem Xiangyue on a Windows village PC: waitress serving the village LAN on port 5000.
rem The project folder is two levels up (deploy\windows\..\..), with .venv made by:
rem   py -3.11 -m venv .venv, then .venv\Scripts\pip install -r requirements.txt
rem It refuses to start while the database schema is behind: run upgrade first (docs/operations.md, "Deploy").
rem Start it at logon with a shortcut in shell:startup, or as a scheduled task "At startup".
setlocal
set "XY_ROOT=%~dp0..\.."
cd /d "%XY_ROOT%"
set XIANGYUE_ENV=production
"%XY_ROOT%\.venv\Scripts\waitress-serve.exe" --listen=0.0.0.0:5000 --threads=8 --channel-timeout=300 wsgi:app
