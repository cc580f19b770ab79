; Greenroom's Windows installer, built by scripts/build-windows with makensis (NSIS 3).
;
; Why our own script and not tauri-bundler's NSIS target: tauri-bundler downloads its NSIS
; plugin (nsis_tauri_utils.dll) from GitHub at bundle time, and our build machines cannot
; reach GitHub. This script needs only what Debian's `nsis` package ships.
;
; What it does:
; - installs per user, without admin rights, under %LOCALAPPDATA%\Programs\Greenroom;
; - a Start-menu shortcut always; a desktop shortcut and greenroom.exe on the user's PATH
;   when asked (both off by default);
; - registers an uninstaller in "Installed apps" (HKCU);
; - the uninstaller removes the program, its shortcuts and its PATH entry, and keeps the
;   user's settings and history (%APPDATA%\Greenroom) unless asked to remove them.
;
; Silent mode, for managed machines:
;   Greenroom-<version>-setup.exe /S [/DESKTOP] [/PATH] [/D=C:\path\to\Greenroom]
;   Uninstall.exe /S [/PURGE]        (/PURGE also removes settings and history)
; (/D must come last and has no quotes, as NSIS requires.)
;
; Defines given by scripts/build-windows: VERSION (0.1.0), VERSION4 (0.1.0.0), BIN_DIR (the
; folder with the executables), ICON, OUTFILE.

; A 64-bit installer, like the executables it installs (and the only kind that runs under
; our 64-bit-only Wine).
Target amd64-unicode
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel user

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "StrFunc.nsh"
!include "WinMessages.nsh"

${StrLoc}
${UnStrRep}

!define PRODUCT "Greenroom"
!define PUBLISHER "Eloquence"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Greenroom"
!define STATE_KEY "Software\Greenroom\Installer"

Name "${PRODUCT} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\Greenroom"
InstallDirRegKey HKCU "${STATE_KEY}" "InstallDir"
BrandingText "${PRODUCT} ${VERSION}"

VIProductVersion "${VERSION4}"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "FileDescription" "${PRODUCT} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "MIT licence"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_SMALLDESC
!define MUI_FINISHPAGE_RUN "$INSTDIR\greenroom-app.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Open Greenroom"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

Section "Greenroom (required)" SecProgram
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; A running Greenroom holds its executables open: say so instead of failing half-way.
  ClearErrors
  FileOpen $0 "$INSTDIR\greenroom-app.exe" a
  ${If} ${Errors}
    ${AndIf} ${FileExists} "$INSTDIR\greenroom-app.exe"
    MessageBox MB_OK|MB_ICONSTOP "Greenroom is running. Close it (and any 'greenroom up' in a terminal), then run this installer again." /SD IDOK
    Abort "Greenroom is running"
  ${EndIf}
  FileClose $0
  File "${BIN_DIR}/greenroom-app.exe"
  File "${BIN_DIR}/greenroom.exe"
  File "${BIN_DIR}/WebView2Loader.dll"
  WriteUninstaller "$INSTDIR\Uninstall.exe"

  CreateShortcut "$SMPROGRAMS\Greenroom.lnk" "$INSTDIR\greenroom-app.exe" "" "$INSTDIR\greenroom-app.exe" 0

  WriteRegStr HKCU "${STATE_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\greenroom-app.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" $0
SectionEnd

Section /o "Desktop shortcut" SecDesktop
  CreateShortcut "$DESKTOP\Greenroom.lnk" "$INSTDIR\greenroom-app.exe" "" "$INSTDIR\greenroom-app.exe" 0
  WriteRegDWORD HKCU "${STATE_KEY}" "DesktopShortcut" 1
SectionEnd

Section /o "Add greenroom.exe to my PATH" SecPath
  ReadRegStr $0 HKCU "Environment" "Path"
  ${StrLoc} $1 ";$0;" ";$INSTDIR;" ">"
  ${If} $1 == ""
    ${If} $0 == ""
      WriteRegExpandStr HKCU "Environment" "Path" "$INSTDIR"
    ${Else}
      WriteRegExpandStr HKCU "Environment" "Path" "$0;$INSTDIR"
    ${EndIf}
    WriteRegDWORD HKCU "${STATE_KEY}" "AddedToPath" 1
    SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=2000
  ${EndIf}
SectionEnd

LangString DESC_Program ${LANG_ENGLISH} "The desktop app and the greenroom command line."
LangString DESC_Desktop ${LANG_ENGLISH} "A Greenroom shortcut on your desktop."
LangString DESC_Path ${LANG_ENGLISH} "Lets you type greenroom in any new terminal (your user's PATH only)."
!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecProgram} $(DESC_Program)
  !insertmacro MUI_DESCRIPTION_TEXT ${SecDesktop} $(DESC_Desktop)
  !insertmacro MUI_DESCRIPTION_TEXT ${SecPath} $(DESC_Path)
!insertmacro MUI_FUNCTION_DESCRIPTION_END

Function .onInit
  ; /DESKTOP and /PATH select the optional parts (for /S, where no page asks).
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/DESKTOP" $R1
  ${IfNot} ${Errors}
    SectionSetFlags ${SecDesktop} ${SF_SELECTED}
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/PATH" $R1
  ${IfNot} ${Errors}
    SectionSetFlags ${SecPath} ${SF_SELECTED}
  ${EndIf}
FunctionEnd

; ---- Uninstaller ----

Section "un.Greenroom" UnSecProgram
  SectionIn RO
  Delete "$INSTDIR\greenroom-app.exe"
  Delete "$INSTDIR\greenroom.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\Greenroom.lnk"
  Delete "$DESKTOP\Greenroom.lnk"

  ReadRegDWORD $0 HKCU "${STATE_KEY}" "AddedToPath"
  ${If} $0 == 1
    ReadRegStr $1 HKCU "Environment" "Path"
    ${UnStrRep} $2 ";$1;" ";$INSTDIR;" ";"
    ; Trim the separators added around it.
    StrCpy $2 $2 "" 1
    StrCpy $2 $2 -1
    WriteRegExpandStr HKCU "Environment" "Path" "$2"
    SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=2000
  ${EndIf}

  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "${STATE_KEY}"
  DeleteRegKey /ifempty HKCU "Software\Greenroom"
SectionEnd

Section /o "un.Also remove my settings and history" UnSecData
  ; Settings (with API keys), logs, run history and reports.
  RMDir /r "$APPDATA\Greenroom"
SectionEnd

LangString DESC_UnData ${LANG_ENGLISH} "Deletes %APPDATA%\Greenroom: your settings, API keys, logs and run history. Leave it unticked to keep them for a later install."
!insertmacro MUI_UNFUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${UnSecData} $(DESC_UnData)
!insertmacro MUI_UNFUNCTION_DESCRIPTION_END

Function un.onInit
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/PURGE" $R1
  ${IfNot} ${Errors}
    SectionSetFlags ${UnSecData} ${SF_SELECTED}
  ${EndIf}
FunctionEnd
