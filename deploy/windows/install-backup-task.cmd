@echo off
rem Register the nightly backup as a Windows scheduled task (run once, as an administrator):
rem every day at 02:30 it runs backup-xiangyue.cmd next to this file; a PC that was off then runs it later.
setlocal
set "TASK=Xiangyue nightly backup"
schtasks /Create /F /TN "%TASK%" /SC DAILY /ST 02:30 /RU SYSTEM /RL HIGHEST /TR "\"%~dp0backup-xiangyue.cmd\""
if errorlevel 1 exit /b 1
rem run when the PC comes back if 02:30 was missed (schtasks has no switch for it)
powershell -NoProfile -Command "Set-ScheduledTask -TaskName %TASK% -Settings (New-ScheduledTaskSettingsSet -StartWhenAvailable)" >nul
echo Scheduled: %TASK% (02:30 daily). Run it now with: schtasks /Run /TN "%TASK%"
