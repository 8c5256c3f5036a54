#Requires -Version 5.1
<#
.SYNOPSIS
    Builds, tests, packages and cleans the S3Mount module.
.DESCRIPTION
    A thin wrapper: 'dotnet build' alone produces the loadable module in out/S3Mount, so machines without
    PowerShell build and test the same way. This script adds the PowerShell side: a publishable package folder
    and the Pester tests, which run in a fresh 'pwsh -NoProfile' against the built module.
.PARAMETER Task
    Build (default), Test, Package, Clean; several run in the order given.
.PARAMETER Configuration
    Debug or Release (default).
.EXAMPLE
    ./build.ps1
    Builds out/S3Mount; then 'Import-Module ./S3Mount.psd1' works from the repository root.
.EXAMPLE
    ./build.ps1 -Task Build, Test
    Builds, runs the xunit tests, then the Pester tests when pwsh and Pester 5 are present.
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package', 'Clean')]
    [string[]] $Task = @('Build'),

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$solution = Join-Path $root 'S3Mount.slnx'
$moduleOut = Join-Path $root 'out/S3Mount'

function Invoke-Native {
    param([string] $File, [string[]] $Arguments)
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE." }
}

foreach ($t in $Task) {
    switch ($t) {
        'Clean' {
            $targets = @(Join-Path $root 'out')
            $targets += Get-ChildItem -Path (Join-Path $root 'src'), (Join-Path $root 'tests'), (Join-Path $root 'bench') -Directory -Recurse -ErrorAction SilentlyContinue |
                Where-Object { $_.Name -in 'bin', 'obj' } | ForEach-Object FullName
            foreach ($p in $targets) {
                if (Test-Path -LiteralPath $p) { Remove-Item -LiteralPath $p -Recurse -Force }
            }
        }
        'Build' {
            Invoke-Native dotnet @('build', $solution, '-c', $Configuration, '-nologo')
            Write-Verbose "Module layout: $moduleOut"
        }
        'Package' {
            $version = (Import-PowerShellDataFile (Join-Path $root 'S3Mount.psd1')).ModuleVersion
            $package = Join-Path $root "out/package/S3Mount/$version"
            if (Test-Path -LiteralPath $package) { Remove-Item -LiteralPath $package -Recurse -Force }
            New-Item -ItemType Directory -Path $package -Force | Out-Null
            Copy-Item -Path (Join-Path $moduleOut '*') -Destination $package -Recurse
            Write-Output (Get-Item -LiteralPath $package)
        }
        'Test' {
            Invoke-Native dotnet @('test', $solution, '-c', $Configuration, '-nologo')
            $pwsh = Get-Command -Name pwsh -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
            $pester = Get-Module -ListAvailable -Name Pester | Where-Object { $_.Version.Major -ge 5 } | Sort-Object Version -Descending | Select-Object -First 1
            if (-not $pwsh -or -not $pester) {
                Write-Warning 'Pester tests not run: they need pwsh and Pester 5 (Install-Module Pester -MinimumVersion 5.5).'
                continue
            }
            # A child pwsh without profile, so the built module and not an installed one is under test.
            $script = "Import-Module Pester -MinimumVersion 5.0; `$c = New-PesterConfiguration; `$c.Run.Path = '$(Join-Path $root 'tests')'; `$c.Run.Exit = `$true; `$c.Output.Verbosity = 'Detailed'; Invoke-Pester -Configuration `$c"
            Invoke-Native $pwsh.Source @('-NoProfile', '-NonInteractive', '-Command', $script)
        }
    }
}
