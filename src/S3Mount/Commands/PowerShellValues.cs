using System.Linq;
using System.Management.Automation;

namespace S3Mount.Commands;

/// <summary>PowerShell values as the engine takes them (plain .NET values, no PowerShell types).</summary>
internal static class PowerShellValues
{
    /// <summary>Switches as Booleans, wrapped objects unwrapped, arrays element by element.</summary>
    public static object? Plain(object? value) => value switch
    {
        SwitchParameter sw => sw.IsPresent,
        PSObject p => Plain(p.BaseObject),
        object[] a => a.Select(Plain).ToArray(),
        _ => value,
    };

    /// <summary>The object inside a PSObject wrapper.</summary>
    public static object? Unwrap(object? value) => value is PSObject p ? p.BaseObject : value;
}
