using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;

namespace S3Mount.Loader;

/// <summary>
/// The load context the whole module lives in on PowerShell 7: the cmdlet assembly (S3Mount.dll), the engine and
/// their dependencies (AWSSDK.Core, AWSSDK.S3, ...). Only this small loader sits in the default context, so another
/// module's copy of the same assemblies (AWS.Tools ships its own AWSSDK.Core) never meets ours, whichever is imported
/// first, and no type of the AWS SDK crosses between the two. Assemblies the runtime or PowerShell provide
/// (System.*, netstandard, System.Management.Automation) come from the default context, so the types PowerShell and
/// S3Mount exchange (strings, arrays, SwitchParameter, ErrorRecord) stay one type.
/// </summary>
public sealed class ModuleLoadContext : AssemblyLoadContext
{
    /// <summary>The file name of the cmdlet assembly that the context loads first.</summary>
    public const string ModuleAssembly = "S3Mount";

    private static readonly object Gate = new();
    private static ModuleLoadContext? s_instance;

    private static readonly HashSet<string> Runtime = new(
        ((AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string) ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(Path.GetFileNameWithoutExtension)
            .Where(n => n is not null)
            .Select(n => n!),
        StringComparer.OrdinalIgnoreCase);

    private readonly string _directory;
    private readonly Assembly _loader = typeof(ModuleLoadContext).Assembly;

    private ModuleLoadContext(string directory)
        : base("S3Mount", isCollectible: false)
    {
        _directory = directory;
        Module = LoadFromAssemblyPath(Path.Combine(directory, ModuleAssembly + ".dll"));
    }

    /// <summary>The context, once <see cref="Initialize"/> has run in this process.</summary>
    public static ModuleLoadContext? Instance => s_instance;

    /// <summary>The directory the module's assemblies are loaded from (the module's lib folder).</summary>
    public string Directory => _directory;

    /// <summary>The cmdlet assembly, loaded in this context; PowerShell imports it with <c>Import-Module -Assembly</c>.</summary>
    public Assembly Module { get; }

    /// <summary>
    /// Creates the context for <paramref name="directory"/> once per process and returns the cmdlet assembly loaded in
    /// it. A second call (Import-Module -Force, or a second import) returns the same assembly.
    /// </summary>
    public static Assembly Initialize(string directory)
    {
        lock (Gate)
        {
            s_instance ??= new ModuleLoadContext(Path.GetFullPath(directory));
            return s_instance.Module;
        }
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (assemblyName.Name is null)
        {
            return null;
        }

        // This loader is one assembly, in the default context; the runtime's and PowerShell's own come from there too.
        if (string.Equals(assemblyName.Name, _loader.GetName().Name, StringComparison.OrdinalIgnoreCase))
        {
            return _loader;
        }

        if (Runtime.Contains(assemblyName.Name))
        {
            return null;
        }

        var path = Path.Combine(_directory, assemblyName.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }
}
