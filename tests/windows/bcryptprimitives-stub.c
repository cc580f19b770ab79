/* A stand-in for Windows' bcryptprimitives.dll, for running Greenroom under Wine only.
 *
 * Rust's standard library gets random bytes from ProcessPrng in bcryptprimitives.dll,
 * which Windows 10 and 11 ship and Wine 8.0 (Debian 12) lacks. The Wine tests build this
 * file with mingw and place the DLL beside the executables they run. It is never shipped:
 * scripts/build-windows and the installer do not know it. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom, advapi32 */

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
