# S3Mount loader. The compiled cmdlets live in lib/ beside this file (the built module, out/S3Mount); imported from a
# source checkout (./S3Mount.psd1 at the repository root) they are taken from the build output.
$lib = Join-Path -Path $PSScriptRoot -ChildPath 'lib'
if (-not (Test-Path -LiteralPath (Join-Path -Path $lib -ChildPath 'S3Mount.dll'))) {
    $lib = [System.IO.Path]::Combine($PSScriptRoot, '..', 'out', 'S3Mount', 'module', 'lib')
}
$dll = Join-Path -Path $lib -ChildPath 'S3Mount.dll'
if (-not (Test-Path -LiteralPath $dll)) {
    throw [System.IO.FileNotFoundException]::new("S3Mount is not built: run 'dotnet build' or './build.ps1 -Task Build' in the repository first.", $dll)
}

$importModule = Get-Command -Name Import-Module -Module Microsoft.PowerShell.Core
if ($PSVersionTable.PSEdition -eq 'Core') {
    # PowerShell 7: only S3Mount.Loader.dll goes into the default load context. It loads the cmdlets (S3Mount.dll), the
    # engine and the AWS SDK into S3Mount's own AssemblyLoadContext, so AWS.Tools (which ships its own AWSSDK.Core) and
    # S3Mount load in one session whichever is imported first, and no AWS SDK type crosses between them.
    if (-not ('S3Mount.Loader.ModuleLoadContext' -as [type])) {
        Add-Type -LiteralPath (Join-Path -Path $lib -ChildPath 'S3Mount.Loader.dll')
    }
    $assembly = [S3Mount.Loader.ModuleLoadContext]::Initialize($lib)
    $inner = & $importModule -Assembly $assembly -PassThru -ErrorAction Stop
    # PowerShell resolves type literals only in assemblies it imported; the engine's public types (MountOptions,
    # MountpointVersion, MountHealth, ...) are on the output objects, so [S3Mount.Engine.Model.MountpointVersion] must work.
    $engine = [S3Mount.Loader.ModuleLoadContext]::Instance.LoadFromAssemblyName([System.Reflection.AssemblyName]::new('S3Mount.Engine'))
    $null = & $importModule -Assembly $engine -ErrorAction Stop
}
else {
    # Windows PowerShell 5.1 has no load contexts: the assemblies load into the one AppDomain (see the README).
    $inner = & $importModule -Name $dll -PassThru -ErrorAction Stop
}

# Import-Module -Assembly of an assembly already imported once (Import-Module -Force, or a second import) returns the
# cached module without giving its cmdlets to this module again (PowerShell/PowerShell#20710): add them explicitly.
$addExportedCmdlet = [System.Management.Automation.PSModuleInfo].GetMethod('AddExportedCmdlet', [System.Reflection.BindingFlags]'Instance, NonPublic')
foreach ($cmdlet in $inner.ExportedCmdlets.Values) {
    $addExportedCmdlet.Invoke($ExecutionContext.SessionState.Module, @(, $cmdlet))
}
Export-ModuleMember -Cmdlet '*'
